"""Attempt limits for routes that take credentials, and the client address they count by."""

import ipaddress
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from src.core.ratelimit import AttemptLimiter


@dataclass(frozen=True, slots=True)
class Attempt:
    limiter: AttemptLimiter
    client: str

    async def login(self, account: str) -> None:
        """Count a login against its (address, account) pair, a 429 past the limit; a
        slower answer for an account under attack."""
        await self.limiter.before_login(client=self.client, account=account)

    async def failed(self, account: str) -> None:
        await self.limiter.failed_login(client=self.client, account=account)

    def security_event(self, kind: str, *, account: str | None = None) -> None:
        self.limiter.security.event(kind, client=self.client, account=account)


async def get_attempt(request: Request) -> Attempt:
    """Counts the request against its client address (a 429 past RATE_LIMIT_PER_CLIENT)
    as a dependency, which FastAPI solves before it validates the body: an invalid body
    counts too, and costs nothing more once the address is over its limit."""
    limiter: AttemptLimiter = request.app.state.limiter
    # Behind a proxy this is the proxy, unless uvicorn trusts its X-Forwarded-For
    # (FORWARDED_ALLOW_IPS).
    client = _client_key(request.client.host if request.client else "unknown")
    await limiter.attempt(client=client)
    return Attempt(limiter, client)


def _client_key(host: str) -> str:
    """An IPv6 client usually holds a whole /64, so that is what it is counted by."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return host


AttemptDep = Annotated[Attempt, Depends(get_attempt)]
