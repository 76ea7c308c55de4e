"""Domain errors: raised by services and repositories, mapped to HTTP in one handler."""


class DomainError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ResourceNotFound(DomainError):
    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} not found")


class ResourceConflict(DomainError):
    pass


class AuthenticationFailed(DomainError):
    pass


class PermissionDenied(DomainError):
    pass
