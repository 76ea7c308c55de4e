"""Route registration that costs nothing per request."""

import inspect
from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

_ROUTE_OPTIONS = frozenset(inspect.signature(APIRouter.add_api_route).parameters) - {
    "self",
    "path",
    "responses",
}
"""What `add_api_route` takes that an `APIRoute` keeps under the same name."""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Registry:
    """The route modules of one API version, added to the app's own router as plain routes.

    FastAPI keeps an included router as a node that every request walks through: it
    matches the path once to pick the router and again inside it. Each route here is
    added to the app directly instead, under this prefix and with these responses, with
    everything else as its module declared it. Measured on GET by id: 1.02M -> 0.84M
    instructions per request (docs/performance.md)."""

    def __init__(
        self,
        *,
        prefix: str,
        responses: dict[int | str, dict[str, Any]],
        write_responses: dict[int | str, dict[str, Any]] | None = None,
    ) -> None:
        """`responses` of every route; `write_responses` also of every POST, PUT, PATCH and
        DELETE."""
        self.prefix = prefix
        self.responses = responses
        self.write_responses = write_responses or {}
        self.routers: list[APIRouter] = []

    def include_router(self, router: APIRouter) -> None:
        self.routers.append(router)

    def include_in(self, app: FastAPI) -> None:
        for router in self.routers:
            add_routes(
                app,
                router,
                prefix=self.prefix,
                responses=self.responses,
                write_responses=self.write_responses,
            )


def add_routes(
    app: FastAPI,
    router: APIRouter,
    *,
    prefix: str = "",
    responses: dict[int | str, dict[str, Any]] | None = None,
    write_responses: dict[int | str, dict[str, Any]] | None = None,
) -> None:
    """Adds `router`'s routes to the app's own router, not the router as a nested node."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes can be added")
        options = {name: getattr(route, name) for name in _ROUTE_OPTIONS & vars(route).keys()}
        shared = dict(responses or {})
        if (route.methods or set()) & WRITE_METHODS:
            shared.update(write_responses or {})
        app.router.add_api_route(
            prefix + route.path,
            responses={**shared, **route.responses},
            route_class_override=type(route),
            **options,
        )
        added = app.router.routes[-1]
        assert isinstance(added, APIRoute)
        if "GET" in (added.methods or set()):
            added.app = only_declared_query(added.app, query_names(added.dependant))


def query_names(dependant: Dependant) -> tuple[str, ...]:
    """The query parameters a route reads, its dependencies' (such as `get_page`'s) included,
    in the order they are declared; a parameter model stands for its fields."""
    names: dict[str, None] = {}
    pending = [dependant]
    while pending:
        current = pending.pop(0)
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(dict.fromkeys(f.alias or n for n, f in model.model_fields.items()))
            else:
                names[field.alias] = None
        pending.extend(current.dependencies)
    return tuple(names)


def only_declared_query(app: ASGIApp, declared: tuple[str, ...]) -> ASGIApp:
    """`app`, answering a query parameter it does not declare with a 400 naming it: ignored,
    `?kind=meeting` on a list without that filter would silently return every row.

    A plain function rather than a coroutine, so a request without a query string costs one
    call and one lookup; the names are matched as sent first, and decoded only if that fails."""
    raw = frozenset(name.encode() for name in declared)
    takes = f"which takes {', '.join(declared)}" if declared else "which takes none"

    def checked(scope: Scope, receive: Receive, send: Send) -> Any:
        query: bytes = scope["query_string"]
        if query:
            unknown = undeclared(query, raw, declared)
            if unknown:
                message = f"not a query parameter of this route, {takes}"
                raise RequestValidationError(
                    [
                        {"type": "unknown_parameter", "loc": ("query", name), "msg": message}
                        for name in unknown
                    ]
                )
        return app(scope, receive, send)

    return checked


def undeclared(query: bytes, raw: frozenset[bytes], declared: tuple[str, ...]) -> list[str]:
    """The names in `query` that are not `declared`, once each, decoded as Starlette's
    `QueryParams` decodes them (latin-1, then percent-decoding as UTF-8, `+` a space)."""
    unknown: list[str] = []
    for part in query.split(b"&"):
        name = part.partition(b"=")[0]
        if not part or name in raw:
            continue
        text = unquote_plus(name.decode("latin-1"))
        if text not in declared and text not in unknown:
            unknown.append(text)
    return unknown
