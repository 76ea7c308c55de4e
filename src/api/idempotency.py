"""`Idempotency-Key` on creates: the HTTP side of `IdempotencyService`.

A create route hands its work to `IdempotentCreate`. Without a key the create is its one
statement. With one, the key's lock, the lookup, the create and the stored answer run in
one transaction: the stored response is replayed when the key was seen, and otherwise the
create runs and the exact bytes it sends are stored with the row.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from src.api.conditional import etag
from src.api.deps import CurrentUser, database_of
from src.core.database import Database
from src.repositories.base import Record
from src.repositories.idempotency_repo import IdempotencyRepository
from src.schemas.base import InputSchema
from src.services.idempotency_service import IdempotencyService, StoredResponse

REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotentCreate:
    def __init__(
        self, request: Request, owner_id: uuid.UUID, key: str | None, schema: type[BaseModel]
    ) -> None:
        self.request = request
        self.owner_id = owner_id
        self.key = key
        self.schema = schema
        """The route's `response_model`: what the 201 body is."""

    async def __call__(
        self, data: InputSchema, create: Callable[[], Awaitable[Record]]
    ) -> Response:
        """201 with the new row, its ETag and Location; or the stored replay."""
        if self.key is None:
            return self._created(await create())
        service, database = self._service()
        async with database.transaction():
            stored = await service.replay(self.key, data)
            if stored is not None:
                headers = {**stored.headers, REPLAYED_HEADER: "true"}
                return Response(stored.body, stored.status_code, headers, "application/json")
            response = self._created(await create())
            headers = {name: response.headers[name] for name in ("ETag", "Location")}
            stored = StoredResponse(response.status_code, bytes(response.body), headers)
            await service.store(self.key, data, stored)
        return response

    def _service(self) -> tuple[IdempotencyService, Database]:
        """Built only for a request that sends a key: most creates need none of it."""
        state = self.request.app.state
        database = database_of(self.request)
        route: APIRoute = self.request.scope["route"]
        repository = IdempotencyRepository(
            database, owner_id=self.owner_id, route=f"{self.request.method} {route.path}"
        )
        ttl = timedelta(hours=state.settings.idempotency_ttl_hours)
        return IdempotencyService(repository, ttl=ttl, clock=state.clock), database

    def _created(self, row: Record) -> Response:
        body = self.schema.model_validate(row).model_dump_json().encode()
        headers = {"ETag": etag(row), "Location": f"{self.request.url.path}/{row.id}"}
        return Response(body, 201, headers, "application/json")


async def get_idempotent_create(
    request: Request,
    user: CurrentUser,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Makes a retried create safe: the same key and body replay the"
            " first answer (24 h or more); the same key with another body is a 422.",
        ),
    ] = None,
) -> IdempotentCreate:
    route: APIRoute = request.scope["route"]
    return IdempotentCreate(request, user.id, key, route.response_model)


Idempotent = Annotated[IdempotentCreate, Depends(get_idempotent_create)]
