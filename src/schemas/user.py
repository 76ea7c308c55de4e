from typing import Annotated, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import (
    AfterValidator,
    BaseModel,
    EmailStr,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from src.schemas.base import InputSchema, NoNul, ResourceResponse

# `format: email` admits special-use domains (RFC 6761: `.test`, `.localhost`, ...) that
# email-validator refuses; this pattern says so in the OpenAPI document, so clients and
# schemathesis know. Documentation only: email-validator remains the rule.
_SPECIAL_USE = "|".join(
    "".join(f"[{c}{c.upper()}]" for c in name) for name in SPECIAL_USE_DOMAIN_NAMES
)
_NOT_SPECIAL_USE = f"^(?!.*[@.](?:{_SPECIAL_USE})$)"

# 320 as the column and the login form; email-validator itself stops at 254.
NormalizedEmail = Annotated[
    EmailStr,
    Field(max_length=320, json_schema_extra={"pattern": _NOT_SPECIAL_USE}),
    AfterValidator(str.lower),
]
_emails: TypeAdapter[str] = TypeAdapter(NormalizedEmail)


class UserCreate(InputSchema):
    email: NormalizedEmail
    password: Annotated[str, Field(min_length=8, max_length=128), NoNul]


class UserResponse(ResourceResponse):
    email: str
    is_superuser: bool


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class PasswordGrant(BaseModel):
    """The OAuth2 password-flow form (RFC 6749 section 4.3.2); other OAuth2 fields are ignored."""

    # A form has no null: the field is either absent or "password".
    grant_type: Literal["password"] = "password"
    username: Annotated[str, Field(min_length=1, max_length=320), NoNul]
    password: Annotated[str, Field(min_length=1, max_length=128), NoNul]

    @field_validator("username")
    @classmethod
    def _same_email_as_registered(cls, username: str) -> str:
        """Normalized exactly as at registration, so the same string finds the same user."""
        try:
            return _emails.validate_python(username)
        except ValidationError:
            return username.lower()
