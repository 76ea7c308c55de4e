from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from src.schemas.base import InputSchema, ResourceResponse

NormalizedEmail = Annotated[EmailStr, AfterValidator(str.lower)]


class UserCreate(InputSchema):
    email: NormalizedEmail
    password: Annotated[str, Field(min_length=8, max_length=128)]


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
    username: Annotated[str, Field(min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=128)]
