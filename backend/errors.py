"""Domain errors. They know nothing of HTTP; backend.api.errors maps them to status codes."""

from __future__ import annotations


class CityOpsError(Exception):
    """Base class: `message` is shown to the user, so it must be actionable and leak nothing."""

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(CityOpsError):
    pass


class InvalidInput(CityOpsError):
    pass


class Unprocessable(InvalidInput):
    """Well-formed input that cannot be acted on (a place outside the county, an unknown code)."""


class Conflict(CityOpsError):
    pass


class NotConfigured(CityOpsError):
    """The environment lacks something (a program, a font, a database) the operation needs."""


class Forbidden(CityOpsError):
    """The caller is known but may not see or touch this object."""
