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

from src.core.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
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


NewPassword = Annotated[
    str,
    Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=f"At least {MIN_PASSWORD_LENGTH} characters; refused when common, a"
        " pattern, or built from the email.",
    ),
    NoNul,
]
RefreshToken = Annotated[str, Field(min_length=1, max_length=100), NoNul]


class UserCreate(InputSchema):
    """The password is also judged against the email (`weak_password`) by the service, off
    the event loop and after the attempt is counted."""

    email: NormalizedEmail
    password: NewPassword


class RegistrationAccepted(BaseModel):
    """The same answer whether the email was new or taken, so registration tells no one
    who has an account."""

    detail: str = Field(
        description="What to do next: log in with the email and password just sent."
    )


class PasswordChange(InputSchema):
    current_password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH), NoNul]
    new_password: NewPassword


class RefreshRequest(InputSchema):
    refresh_token: RefreshToken


class UserResponse(ResourceResponse):
    email: str
    is_superuser: bool


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(
        description="Single use: POST it to /auth/refresh for the next pair of tokens, or to"
        " /auth/logout to end the session. Presenting one a second time ends the session."
    )


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
