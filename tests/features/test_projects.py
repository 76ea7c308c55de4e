"""FEAT-001 Projects: the CRUD contract for each status in docs/features/FEAT-001-projects.md."""

from tests.crud_contract import (
    CreateContract,
    DeleteContract,
    GetContract,
    ListContract,
    UpdateContract,
)


class TestProjects(CreateContract, GetContract, ListContract, UpdateContract, DeleteContract):
    resource = "projects"
    valid = {"name": "x"}
    references = {}
    statuses = {
        "create": (201, 400, 401),
        "get": (200, 400, 401, 404),
        "list": (200, 400, 401),
        "update": (200, 400, 401, 404),
        "delete": (204, 400, 401, 404),
    }
