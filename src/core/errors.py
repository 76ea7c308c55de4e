"""Domain errors: raised by services and repositories, mapped to HTTP in one handler."""

import re


def in_words(model: str) -> str:
    """A model's name as a sentence says it: `TimeEntry` -> `Time entry`, `APIKey` ->
    `API key`, so a message reads "Time entry not found"."""
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", model)
    rest = [part if part.isupper() and len(part) > 1 else part.lower() for part in parts[1:]]
    return " ".join([parts[0], *rest]) if parts else model


class DomainError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ResourceNotFound(DomainError):
    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} not found")


class ResourceConflict(DomainError):
    pass


class RuleBroken(ResourceConflict):
    """An action's `When` does not hold for the row: a 409 naming the rule that failed."""

    def __init__(self, resource: str, action: str, field: str, rule: str, found: str) -> None:
        super().__init__(
            f"{resource} cannot {action}: it needs {rule}, and it has {field} = {found}"
        )
        self.field = field
        self.rule = rule


class AuthenticationFailed(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class PreconditionFailed(DomainError):
    """The row changed since the client read it (its `If-Match` names an older version)."""

    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} has changed since it was read; fetch it again")


class PreconditionRequired(DomainError):
    """Writes must be conditional (REQUIRE_IF_MATCH) and this one is not."""


class IdempotencyKeyReused(DomainError):
    """The key was already used for a request with a different body."""


class IdempotencyKeyInFlight(DomainError):
    """The first request with this key has not finished yet."""

    retry_after = 1


class RateLimited(DomainError):
    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidField(DomainError):
    """Input that passed its schema but breaks a rule only the service can check (a
    password built from the account's email): a 400 naming the field, like a schema's."""

    def __init__(self, field: str, rule: str, detail: str, location: str = "body") -> None:
        super().__init__(detail)
        self.field = field
        self.rule = rule
        self.location = location
        """`body`, or `query` for a query parameter."""
