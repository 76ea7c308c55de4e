"""Members of a shared container (`Access: shared`) and their roles."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from src.models.base import Role
from src.schemas.base import InputSchema
from src.schemas.user import NormalizedEmail


class MemberCreate(InputSchema):
    email: NormalizedEmail = Field(description="The email of an existing user.")
    role: Role


class MemberUpdate(InputSchema):
    role: Role


class MemberResponse(BaseModel):
    """A member as the other members see them: sharing a container shows the email."""

    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    name: str
    email: str
    role: Role
    created_at: datetime = Field(description="When the user became a member.")
