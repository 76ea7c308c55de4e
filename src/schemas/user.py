import uuid
from typing import Annotated, Literal, Self

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import (
    MISSING,
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

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
CurrentPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH), NoNul]
RefreshToken = Annotated[str, Field(min_length=1, max_length=100), NoNul]

USER_NAME_MAX_LENGTH = 100
UserName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=USER_NAME_MAX_LENGTH,
        description="How the user is shown to others: any text, counted as sent (not trimmed).",
    ),
    NoNul,
]


def name_from_email(email: str) -> str:
    """The name of an account that was given none: its email's local part, which its owner
    recognises and which says nothing of their mail provider, cut to fit the column."""
    return email.partition("@")[0][:USER_NAME_MAX_LENGTH]


class UserCreate(InputSchema):
    """The password is also judged against the email (`weak_password`) by the service, off
    the event loop and after the attempt is counted."""

    email: NormalizedEmail
    password: NewPassword
    name: UserName | MISSING = Field(
        MISSING,
        description="Display name, 1 to 100 characters. Absent: the email's part before `@`"
        f" (cut to {USER_NAME_MAX_LENGTH} characters), changed later with PATCH /users/me.",
    )

    def display_name(self) -> str:
        """The name sent, else the one made from the email."""
        sent: dict[str, str] = self.model_dump(include={"name"})
        return sent.get("name") or name_from_email(self.email)


class RegistrationAccepted(BaseModel):
    """The same answer whether the email was new or taken, so registration tells no one
    who has an account."""

    detail: str = Field(
        description="What to do next: log in with the email and password just sent."
    )


class PasswordChange(InputSchema):
    current_password: CurrentPassword
    new_password: NewPassword


_PASSWORD_FIELDS = ("current_password", "new_password")


class UserUpdate(InputSchema):
    """A change of one's own account: the name, the password (both password fields, or
    neither), or both at once. `{}` changes nothing."""

    model_config = ConfigDict(
        json_schema_extra={
            "dependentRequired": {
                "current_password": ["new_password"],
                "new_password": ["current_password"],
            }
        }
    )

    name: UserName | MISSING = MISSING
    current_password: CurrentPassword | MISSING = MISSING
    new_password: NewPassword | MISSING = MISSING

    @model_validator(mode="after")
    def _passwords_go_together(self) -> Self:
        """A 400 naming the password field that is missing, as if it were required."""
        for field, other in (_PASSWORD_FIELDS, reversed(_PASSWORD_FIELDS)):
            if other in self.model_fields_set and field not in self.model_fields_set:
                error = PydanticCustomError("missing", f"Field required with {other}")
                raise ValidationError.from_exception_data(
                    type(self).__name__,
                    [InitErrorDetails(type=error, loc=(field,), input=None)],
                )
        return self

    def changes(self) -> dict[str, str]:
        """The columns written as sent (the name); the password is hashed first."""
        return self.model_dump(include={"name"})

    def password_change(self) -> PasswordChange | None:
        """The password part, when the body has one (already validated as this model)."""
        sent = self.model_dump(include=set(_PASSWORD_FIELDS))
        return PasswordChange.model_construct(**sent) if sent else None


class RefreshRequest(InputSchema):
    refresh_token: RefreshToken


class UserResponse(ResourceResponse):
    """One's own account (or any, to a superuser): the email is answered to no one else."""

    email: str
    name: str
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


class UserSummary(BaseModel):
    """A person as another user's row shows them (`expand` of `assignee_id`): their name,
    never their email."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
