from src.models.task import Task
from src.repositories.base import OwnedRepository


class TaskRepository(OwnedRepository[Task]):
    model = Task
