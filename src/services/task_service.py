from src.models.task import Task
from src.schemas.task import TaskCreate, TaskUpdate
from src.services.base import CrudService


class TaskService(CrudService[Task, TaskCreate, TaskUpdate]):
    resource = "Task"
