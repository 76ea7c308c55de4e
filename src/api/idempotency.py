"""`Idempotency-Key` on creates: the HTTP side of `IdempotencyService`.

A create route hands its work to `created()`. Without a key the create is its one
statement. With one, the key's lock, the lookup, the create and the stored answer run in
one transaction: the stored response is replayed when the key was seen, and otherwise the
create runs and the exact bytes it sends are stored with the row.

The key is a parameter of the route itself, not a dependency: FastAPI solves each
dependency level on every request, and most creates send no key.
"""

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from src.api.conditional import etag
from src.api.deps import database_of
from src.core import metrics
from src.repositories.base import Record
from src.repositories.idempotency_repo import IdempotencyRepository
from src.schemas.base import InputSchema
from src.services.base import CrudService
from src.services.idempotency_service import IdempotencyService, StoredResponse

REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retried create safe: the same key and body replay the"
        " first answer (24 h or more); the same key with another body is a 422.",
    ),
]


async def created(
    request: Request,
    service: CrudService[Any, Any, Any],
    data: InputSchema,
    key: str | None,
    under: Mapping[str, Any] | None = None,
) -> Response:
    """201 with the new row, its ETag and Location; or, for a key seen before, the stored
    answer replayed. `under`: the parent a nested route names; a key is kept per parent."""
    route: APIRoute = request.scope["route"]
    schema: type[BaseModel] = route.response_model
    if key is None:
        return _created(request, schema, await service.create(data, under))
    owner_id = service.repository.owner_id
    assert owner_id is not None, "creates are made by a caller"
    where = "".join(f" {name}={value}" for name, value in (under or {}).items())
    idempotency = _idempotency_service(request, owner_id, f"{route.path}{where}")
    async with database_of(request).transaction():
        stored = await idempotency.replay(key, data)
        if stored is not None:
            metrics.IDEMPOTENT_REPLAYS.inc()
            headers = {**stored.headers, REPLAYED_HEADER: "true"}
            return Response(stored.body, stored.status_code, headers, "application/json")
        response = _created(request, schema, await service.create(data, under))
        headers = {name: response.headers[name] for name in ("ETag", "Location")}
        stored = StoredResponse(response.status_code, bytes(response.body), headers)
        await idempotency.store(key, data, stored)
    return response


def _idempotency_service(request: Request, owner_id: uuid.UUID, path: str) -> IdempotencyService:
    """Built only for a request that sends a key: most creates need none of it."""
    state = request.app.state
    repository = IdempotencyRepository(
        database_of(request), owner_id=owner_id, route=f"{request.method} {path}"
    )
    ttl = timedelta(hours=state.settings.idempotency_ttl_hours)
    return IdempotencyService(repository, ttl=ttl, clock=state.clock)


def _created(request: Request, schema: type[BaseModel], row: Record) -> Response:
    body = schema.model_validate(row).model_dump_json().encode()
    # The collection's own path (root path included), not `request.url`: no URL to build.
    headers = {"ETag": etag(row), "Location": f"{request.scope['path']}/{row.id}"}
    return Response(body, 201, headers, "application/json")
