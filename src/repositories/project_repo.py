from src.models.project import Project
from src.repositories.base import OwnedRepository


class ProjectRepository(OwnedRepository[Project]):
    model = Project
