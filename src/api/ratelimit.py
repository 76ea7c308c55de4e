"""Attempt limits for routes that take credentials: the route names the account."""

import ipaddress
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from src.core.ratelimit import AttemptLimiter


@dataclass(frozen=True, slots=True)
class Attempt:
    limiter: AttemptLimiter
    client: str

    async def count(self, account: str) -> None:
        """Count this request against its client address and `account`; a 429 once
        either limit is spent. Called before the work, so failures count too."""
        await self.limiter.attempt(client=self.client, account=account)


async def get_attempt(request: Request) -> Attempt:
    limiter: AttemptLimiter = request.app.state.limiter
    # Behind a proxy this is the proxy, unless uvicorn trusts its X-Forwarded-For
    # (FORWARDED_ALLOW_IPS).
    client = request.client.host if request.client else "unknown"
    return Attempt(limiter, _client_key(client))


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
