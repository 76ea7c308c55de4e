"""A check the schemathesis CLI loads (`SCHEMATHESIS_HOOKS`) in place of one of its own.

`ensure_resource_availability` (ST302) calls a 404 after a successful POST "a created
resource is missing" unless a DELETE of that row is in the same scenario. Hypothesis runs
many scenarios against one server, and replays similar ones with the same values, the
`Idempotency-Key` included. A create replayed by its key answers the row it made first,
even after a DELETE in an earlier scenario removed it (Stripe's semantics,
docs/reliability.md): that 201 created nothing, and the GET after it is rightly a 404.
Seen in a fuzz run: POST (key K) 201, DELETE 204; next scenario: POST (key K) 201
`Idempotent-Replayed: true` with the same id, GET 404.

Adding a member to a row just created (`POST /projects/{project_id}/members` with an email)
answers 404 `User not found` when no account has that email: the row is there, the person is
not. So the check is also skipped for a 404 that names a user.

So the check is kept as it is except after a replayed create, or for a missing person;
every fresh create is still read back. (A per-operation exemption cannot say this:
schemathesis applies the settings of the GET, the operation the check runs on, never those
of the POST.)
"""

from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.specs.openapi.checks import ensure_resource_availability

REPLAYED_HEADER = "idempotent-replayed"  # src/api/idempotency.py, lower-cased as received


@schemathesis.check
def resource_available_after_a_fresh_create(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """`ensure_resource_availability`, skipped when the POST before was a replay or the 404
    is of a person the request named."""
    parent = ctx.internals.find_parent(case_id=case.id)
    created = parent and ctx.internals.find_response(case_id=parent.id)
    if created and created.headers.get(REPLAYED_HEADER) == ["true"]:
        return None
    if response.status_code == 404 and _detail(response) == "User not found":
        return None
    return ensure_resource_availability(ctx, response, case)


def _detail(response: Response) -> str | None:
    """The `detail` of a problem body, if it is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("detail") if isinstance(body, dict) else None
