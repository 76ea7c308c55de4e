import uuid

from pydantic import MISSING

from src.core.errors import ResourceNotFound
from src.models.task import Task
from src.repositories.project_repo import ProjectRepository
from src.repositories.task_repo import TaskRepository
from src.schemas.task import TaskCreate, TaskUpdate
from src.services.base import CrudService


class TaskService(CrudService[Task, TaskCreate, TaskUpdate]):
    """A task may only point at a project its user owns; any other id is a 404."""

    resource = "Task"

    def __init__(self, repository: TaskRepository, projects: ProjectRepository) -> None:
        super().__init__(repository)
        self.projects = projects

    async def create(self, data: TaskCreate) -> Task:
        await self._require_project(data.project_id)
        return await super().create(data)

    async def update(self, id: uuid.UUID, data: TaskUpdate) -> Task:
        if data.project_id is not MISSING:
            await self._require_project(data.project_id)
        return await super().update(id, data)

    async def _require_project(self, project_id: uuid.UUID) -> None:
        if not await self.projects.exists(project_id):
            raise ResourceNotFound("Project")
