"""RFC 9457 problem details, named as the design template names its errors."""

from pydantic import BaseModel, Field


class Problem(BaseModel):
    type: str = Field(default="about:blank", description="URI reference for the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code of this response.")
    detail: str = Field(description="What went wrong in this occurrence.")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. `name`.")
    location: str = Field(
        description="Where it was sent: body, query, path or header; `row` for the stored"
        " field an action's rule reads."
    )
    rule: str = Field(description="The rule it broke, e.g. `string_too_long`.")
    message: str


class ValidationError(Problem):
    errors: list[FieldError]


class UnauthorizedError(Problem):
    pass


class ForbiddenError(Problem):
    pass


class NotFoundError(Problem):
    pass


class ConflictError(Problem):
    errors: list[FieldError] | None = Field(
        default=None,
        description=(
            "When a unique field's value is taken: that field (rule `unique`). When an"
            " action's rule fails: the row's field and the rule (location `row`)."
        ),
    )


class PreconditionFailedError(Problem):
    pass


class PayloadTooLargeError(Problem):
    pass


class IdempotencyError(Problem):
    pass


class PreconditionRequiredError(Problem):
    pass


class TooManyRequestsError(Problem):
    pass


class HeaderFieldsTooLargeError(Problem):
    """The request's head (its URL too) passed MAX_HEADER_BYTES or MAX_HEADER_FIELDS; answered
    by `featwright serve` before the app (src/core/http_limits.py)."""


class ServiceUnavailableError(Problem):
    pass
