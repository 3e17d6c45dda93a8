"""Domain exceptions raised by the core; the API and the consumer map them at their edges."""

from typing import Self


class DnsorchError(Exception):
    """Base of every error the core raises on purpose."""


class InvalidRequest(DnsorchError):
    """The request breaks a DNS or contract rule; the client must change it (HTTP 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RequestNotFound(DnsorchError):
    """No request with that id (HTTP 404)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id} not found")
        self.request_id = request_id


class RequestFinished(DnsorchError):
    """The request's workflow has ended, so it can no longer be steered (HTTP 409)."""

    def __init__(self, request_id: str, status: str) -> None:
        super().__init__(
            f"request {request_id} has finished with status {status}; its status can no longer change"
        )
        self.request_id = request_id
        self.status = status


class ServiceUnavailable(DnsorchError):
    """A backing service (PostgreSQL, Temporal) cannot be reached; try again later (HTTP 503).

    Built by `postgresql()` and `temporal()`, so an outage reads the same wherever it is met."""

    @classmethod
    def postgresql(cls) -> Self:
        return cls("PostgreSQL is unavailable")

    @classmethod
    def temporal(cls, reason: object = None) -> Self:
        """Temporal answered with an error (`reason`), or could not be reached at all (None)."""
        return cls("Temporal is unreachable" if reason is None else f"Temporal is unavailable: {reason}")


class FourEyes(DnsorchError):
    """Four eyes: the approver submitted the request, belongs to its account, or has no key to name
    it by (HTTP 403: who approves, not the request's state, is wrong)."""

    def __init__(self, request_id: str, reason: str) -> None:
        super().__init__(reason)
        self.request_id = request_id
        self.reason = reason


class AlreadyApproved(DnsorchError):
    """This API key approved the request already; another approver must (HTTP 409)."""

    def __init__(self, request_id: str, reason: str) -> None:
        super().__init__(reason)
        self.request_id = request_id
        self.reason = reason


class IllegalTransition(DnsorchError):
    """The request's workflow refused the change in its current state (HTTP 409); nothing was recorded."""

    def __init__(self, request_id: str, reason: str) -> None:
        super().__init__(reason)
        self.request_id = request_id
        self.reason = reason


class NameOwnedByAnotherAccount(DnsorchError):
    """The DNS name belongs to another account; only an operator can transfer it (HTTP 409)."""

    def __init__(self, domain: str, owner: str) -> None:
        super().__init__(f"{domain} belongs to another account; only an operator can transfer it")
        self.domain = domain
        self.owner = owner


class NameNotManaged(DnsorchError):
    """No account owns that name: dnsorch manages no record there (HTTP 404)."""

    def __init__(self, domain: str) -> None:
        super().__init__(f"{domain} is not a name dnsorch manages")
        self.domain = domain


class RecordConflict(DnsorchError):
    """The request contradicts the records dnsorch manages (HTTP 409 with `code`); never retried."""

    code = "conflicts_with_existing_data"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecordExists(RecordConflict):
    code = "already_exists"


class RecordMissing(RecordConflict):
    code = "record_does_not_exist"


class ProtectedName(RecordConflict):
    """The name is the zone's own (a name server, a zone cut) or a reverse zone's (HTTP 409);
    dnsorch/dns/protected.py says which."""

    code = "protected_name"


class IdempotencyConflict(DnsorchError):
    """The Idempotency-Key was used before for a different request body (HTTP 409)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"this Idempotency-Key was already used for a different request ({request_id}); use a new key"
        )
        self.request_id = request_id
