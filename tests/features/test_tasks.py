"""FEAT-002 Tasks: the CRUD contract for each status in docs/features/FEAT-002-tasks.md."""

from tests.crud_contract import (
    CreateContract,
    DeleteContract,
    GetContract,
    ListContract,
    UpdateContract,
)


class TestTasks(CreateContract, GetContract, ListContract, UpdateContract, DeleteContract):
    resource = "tasks"
    valid = {"title": "x"}
    references = {"project_id": "projects"}
    statuses = {
        "create": (201, 400, 401, 404),
        "get": (200, 400, 401, 404),
        "list": (200, 400, 401),
        "update": (200, 400, 401, 404),
        "delete": (204, 400, 401, 404),
    }
