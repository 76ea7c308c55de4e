"""Logging: every record (ours, uvicorn's, SQLAlchemy's) through structlog, as one JSON object
per line (`LOG_FORMAT=json`, production) or readable text (development), each carrying the
request id of the request it belongs to."""

import logging
import sys
from typing import Literal

import structlog
from asgi_correlation_id import correlation_id
from structlog.processors import CallsiteParameter
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["text", "json"]
_HANDLER_NAME = "featwright"
# Driver loggers held above LOG_LEVEL, since below these levels they quote what the database
# holds: aiosqlite's debug lines repeat every call with its arguments (the SQL parameters:
# emails, password hashes, row contents), and SQLAlchemy's engine logs each statement at
# info (the engines hide its parameters) and each result row at debug. asyncpg logs no
# statement at any level.
_DRIVER_LOGGER_FLOORS = {"aiosqlite": logging.INFO, "sqlalchemy": logging.WARNING}


def _request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    request_id = correlation_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def configure_logging(level: str, log_format: LogFormat) -> None:
    """Route the root logger through one structlog handler (set up once per process; called
    again, it only updates the level and the format)."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.CallsiteParameterAdder([CallsiteParameter.PROCESS]),
        _request_id,
    ]
    # The format is the handler's alone: a logger caches the chain above on first use, so
    # a format chosen later (a second call) must not need a processor in it.
    rendering: list[Processor]
    if log_format == "json":
        # the traceback as one field
        rendering = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # A plain traceback: the default one prints each frame's local variables, which
        # may hold a password or a token.
        rendering = [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    handler.setFormatter(formatter)
    previous = root.level
    root.setLevel(level.upper())
    for name, floor in _DRIVER_LOGGER_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn.access stays off: the app logs requests
        logging.getLogger(name).handlers.clear()  # through the root handler, once
        logging.getLogger(name).propagate = True
    if root.level != previous and root.level <= logging.DEBUG:  # once, not per call
        held = ", ".join(
            f"{name} at {logging.getLevelName(floor).lower()}"
            for name, floor in _DRIVER_LOGGER_FLOORS.items()
        )
        logging.getLogger(__name__).debug(
            "Debug logging on, but %s: their debug lines quote SQL parameters", held
        )
