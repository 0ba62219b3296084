"""One root exception; each subclass says in its docstring what it means.

The REST API maps these onto HTTP problem details, the console onto toasts, so every
message here is written for the person who will read it.
"""

from __future__ import annotations


class JobdeckError(Exception):
    """Root of every error Jobdeck raises on purpose."""

    status_code = 400

    def __init__(self, message: str, **detail):
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(JobdeckError):
    """The thing does not exist, or the caller may not see it (ids reveal nothing)."""

    status_code = 404


class PermissionDenied(JobdeckError):
    """The caller is known but may not do this."""

    status_code = 403


class AuthenticationFailed(JobdeckError):
    """No valid credentials were given."""

    status_code = 401


class InvalidInput(JobdeckError):
    """Input failed validation; `field` names the offending field when there is one."""

    status_code = 422

    def __init__(self, message: str, *, field: str | None = None, errors: list | None = None):
        super().__init__(message, field=field, errors=errors or [])
        self.field = field
        self.errors = errors or []


class InvalidCursor(InvalidInput):
    """A paging cursor this server did not give out (forged, cut or altered): a bad
    request, not invalid data."""

    status_code = 400


class ParameterRefused(InvalidInput):
    """A run's parameter is unknown, missing while required, or breaks its task's rule
    (type, allowed values, range): the request is refused before anything is lodged."""

    status_code = 400


class DocumentNotReadable(InvalidInput):
    """A document (the configuration's YAML) cannot be read as one: its syntax, its
    encoding, or a construct a configuration never needs (anchors and aliases, tags,
    duplicate keys, nesting too deep, too many values, several documents). `field` names
    the path where it was found; nothing is written."""

    status_code = 400


class UnknownJobType(InvalidInput):
    """No job type/subtype of that name is registered."""


class TransitionRejected(JobdeckError):
    """A status change was refused: not allowed from the current status, or the job
    moved on (a late or duplicate write, a stale attempt)."""

    status_code = 409


class Conflict(JobdeckError):
    """The request conflicts with the current state of a record."""

    status_code = 409


class PayloadTooLarge(JobdeckError):
    """The data sent is larger than the limit its setting allows (e.g. a pipeline's
    upload over JOBDECK_MAX_UPLOAD_BYTES)."""

    status_code = 413


class UnsupportedMediaType(JobdeckError):
    """The body is in a format the operation does not read (e.g. XML where JSON or
    CSV is expected)."""

    status_code = 415


class RateLimited(JobdeckError):
    """The caller sent more requests than its fair-use limit allows; `retry_after`
    says in how many seconds it may send again."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class InputNotValid(InvalidInput):
    """An uploaded file failed one of its pipeline's input validators (FASTA, PDB,
    PNG...): `validator` names it, the message says what is wrong. Nothing is stored."""

    status_code = 400

    def __init__(self, message: str, *, validator: str, field: str | None = "file"):
        super().__init__(message, field=field)
        self.validator = validator
        self.detail["validator"] = validator


class EmailNotValid(InvalidInput):
    """The email address a submission is to be told at is not one (the message says
    why). Nothing is lodged."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = "email"):
        super().__init__(message, field=field)


class TooManyActive(JobdeckError):
    """A submitter already has as many active (waiting or running) submissions as the
    hard fair-use limit allows: `limit` and `active` say how many."""

    status_code = 429

    def __init__(self, message: str, *, limit: int, active: int):
        super().__init__(message, limit=limit, active=active)
        self.limit = limit
        self.active = active


class QueueUnavailable(JobdeckError):
    """Redis did not answer. Lodged jobs are kept and queued once it does."""

    status_code = 503


class JobFailed(JobdeckError):
    """Raised by a handler to end its job FAILED with a message for the owner
    (as opposed to an unexpected exception, which ends it CRASHED)."""
