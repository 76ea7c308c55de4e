import uuid

from pydantic import MISSING

from src.core.errors import ResourceNotFound
from src.models.task import Task
from src.repositories.project_repo import ProjectRepository
from src.repositories.task_repo import TaskRepository
from src.schemas.task import TaskCreate, TaskUpdate
from src.services.base import CrudService


class TaskService(CrudService[Task, TaskCreate, TaskUpdate]):
    """A task's project must belong to the task's owner; any other project id is a 404.

    `projects` has the caller's scope, so a superuser can move someone's task
    only into another project of that same someone.
    """

    resource = "Task"

    def __init__(self, repository: TaskRepository, projects: ProjectRepository) -> None:
        super().__init__(repository)
        self.tasks = repository
        self.projects = projects

    async def create(self, data: TaskCreate) -> Task:
        await self._require_project(data.project_id, owner_id=self.tasks.owner_id)
        return await super().create(data)

    async def update(self, id: uuid.UUID, data: TaskUpdate) -> Task:
        if data.project_id is not MISSING:
            task = await self.get(id)
            await self._require_project(data.project_id, owner_id=task.owner_id)
        return await super().update(id, data)

    async def _require_project(self, project_id: uuid.UUID, *, owner_id: uuid.UUID) -> None:
        project = await self.projects.get(project_id)
        if project is None or project.owner_id != owner_id:
            raise ResourceNotFound("Project")
