"""What deploy/cluster.sh reads off HAProxy's stats sockets and Patroni's GET /cluster.

    python3 deploy/cluster_state.py leader < cluster.json           the primary's name, or nothing
    python3 deploy/cluster_state.py candidate < cluster.json        the synchronous standby's name
    python3 deploy/cluster_state.py replicated N < cluster.json     exit 0 once N nodes replicate
    python3 deploy/cluster_state.py route DB_SOCKET                  the nodes the route sends to
    python3 deploy/cluster_state.py status WEB_SOCKET DB_SOCKET < cluster.json

Standard library only: it runs on the system's Python, outside featwright's environment.
"""

import csv
import json
import socket
import sys
from typing import Any


def haproxy_servers(path: str, proxy: str) -> dict[str, str]:
    """Each server of `proxy` and its state in HAProxy's health checks (UP, DOWN, ...)."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(path)
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return {}
    rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
    return {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == proxy and row["svname"] not in ("FRONTEND", "BACKEND")
    }


def members() -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = json.load(sys.stdin)["members"]
    except (ValueError, KeyError):
        return []
    return found


def named(role: str) -> str:
    return next((member["name"] for member in members() if member["role"] == role), "")


def replicated(count: int) -> bool:
    """`count` nodes running on one timeline: one primary, a synchronous standby among the rest."""
    running = [member for member in members() if member["state"] in ("running", "streaming")]
    roles = [member["role"] for member in running]
    timelines = {member.get("timeline") for member in running}
    return (
        len(running) == count
        and roles.count("leader") == 1
        and "sync_standby" in roles
        and len(timelines) == 1
    )


def status(web_socket: str, db_socket: str) -> None:
    """Each process as HAProxy's checks see it; then each node as Patroni sees it: its role,
    state, timeline, lag (the primary's WAL position as Patroni last published it, less what
    the standby has received or replayed, in bytes), and whether the database route sends
    connections to it."""
    for name, state in haproxy_servers(web_socket, "featwright").items():
        print(name, state)
    route = {
        name: state.replace(" ", "")  # "UP 1/2": one word, as every field of the line
        for name, state in haproxy_servers(db_socket, "postgres").items()
    }
    nodes = {member["name"]: member for member in members()}
    for name in sorted(set(route) | set(nodes)):
        member = nodes.get(name)
        if member is None:
            print(name, "gone", f"route={route.get(name, '-')}")
            continue
        lag = member.get("lag", 0 if member["role"] == "leader" else "unknown")
        timeline = member.get("timeline", "-")
        print(
            name,
            member["role"],
            member["state"],
            f"timeline={timeline}",
            f"lag={lag}",
            f"route={route.get(name, '-')}",
        )


def main(command: str, *arguments: str) -> int:
    if command == "leader":
        print(named("leader"))
    elif command == "candidate":
        print(named("sync_standby"))
    elif command == "replicated":
        return 0 if replicated(int(arguments[0])) else 1
    elif command == "route":
        # "UP 1/2" is a server going down that still gets connections.
        for name, state in haproxy_servers(arguments[0], "postgres").items():
            if state.startswith("UP"):
                print(name)
    elif command == "status":
        status(*arguments)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]) if sys.argv[1:] else main("help"))
