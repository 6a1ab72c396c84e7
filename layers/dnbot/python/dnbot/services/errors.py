"""Errors a use case reports to its caller (the API maps them to 4xx JSON; the CLI to exit code 2)."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses; `code` is stable and machine-readable, the message is for a person."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class TooManyRequests(ServiceError):
    """Answered with a Retry-After header (seconds)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, code: str | None = None, retry_after_seconds: int = 60) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = max(1, retry_after_seconds)


class Unavailable(ServiceError):
    """The request is fine but the system cannot serve it now (e.g. no rates polled yet)."""

    status = 503
    code = "unavailable"
