from src.core.errors import AuthenticationFailed, ResourceConflict
from src.core.security import Principal, TokenService, hash_password, verify_password
from src.repositories.base import Record
from src.repositories.user_repo import UserRepository
from src.schemas.user import TokenResponse, UserCreate


class AuthService:
    def __init__(self, users: UserRepository, tokens: TokenService) -> None:
        self.users = users
        self.tokens = tokens

    async def register(self, data: UserCreate, *, is_superuser: bool = False) -> Record:
        hashed_password = await hash_password(data.password)
        if await self.users.get_by_email(data.email) is not None:
            raise ResourceConflict("A user with this email already exists")
        values = {
            "email": data.email,
            "hashed_password": hashed_password,
            "is_superuser": is_superuser,
        }
        # A concurrent registration that wins the race fails the unique index
        # instead; the error handler answers that IntegrityError with a 409 too.
        user = await self.users.create(values)
        assert user is not None  # users reference nothing that could be missing
        return user

    async def login(self, email: str, password: str) -> TokenResponse:
        # The connection is back in the pool before the deliberately slow hash check.
        user = await self.users.get_by_email(email)
        if not await verify_password(password, user.hashed_password if user else None) or not user:
            raise AuthenticationFailed("Incorrect email or password")
        token = self.tokens.issue(Principal(id=user.id, is_superuser=user.is_superuser))
        return TokenResponse(access_token=token, expires_in=int(self.tokens.ttl.total_seconds()))
