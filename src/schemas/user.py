from typing import Annotated, Literal

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

NormalizedEmail = Annotated[EmailStr, AfterValidator(str.lower)]
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

    grant_type: Literal["password"] | None = None
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
