"""Prometheus metrics. Each worker of `featwright serve --workers N` writes its own, and
`/metrics` adds them up: prometheus-client's multiprocess mode, on when the
PROMETHEUS_MULTIPROC_DIR environment variable names a directory (serve sets it)."""

import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "featwright_http_request_duration_seconds",
    "Requests by route template, method and status: latency, and `_count` the number.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POOL_SIZE = Gauge(
    "featwright_db_pool_size", "Database connections open.", multiprocess_mode="livesum"
)
POOL_IN_USE = Gauge(
    "featwright_db_pool_in_use", "Database connections in use.", multiprocess_mode="livesum"
)
RATE_LIMITED = Counter(
    "featwright_rate_limit_rejections_total", "Login and register attempts answered 429."
)
IDEMPOTENT_REPLAYS = Counter(
    "featwright_idempotent_replays_total", "Creates answered from a stored Idempotency-Key."
)
OUTAGES = Counter(
    "featwright_database_unavailable_total", "Requests answered 503: the database did not answer."
)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, every worker's added up."""
    registry = REGISTRY
    if directory := os.environ.get(MULTIPROCESS_DIR):
        _forget_dead_workers(Path(directory))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _forget_dead_workers(directory: Path) -> None:
    """A worker killed (or restarted by uvicorn) never ran its shutdown: drop its live gauges."""
    for pid in {
        int(m[1]) for f in directory.glob("*.db") if (m := re.search(r"_(\d+)\.db$", f.name))
    }:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass


def worker_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (its counters stay in the sums)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
