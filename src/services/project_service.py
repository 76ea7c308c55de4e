from src.models.project import Project
from src.schemas.project import ProjectCreate, ProjectUpdate
from src.services.base import CrudService


class ProjectService(CrudService[Project, ProjectCreate, ProjectUpdate]):
    resource = "Project"
