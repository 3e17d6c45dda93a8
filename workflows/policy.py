"""Timeouts and retry policies, named in one place (the change itself is dnsorch/dns/change.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from dnsorch.contracts import (
    DNS_CHANGE_CONFLICT,
    DNS_CHANGE_REJECTED,
    NAME_OWNED_BY_ANOTHER_ACCOUNT,
    REQUEST_ENDED,
    ApplyPolicy,
)

# Database writes retry until PostgreSQL is back: an outage must delay a request, not fail it.
DB_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30)
)


# Waiting for a name's turn lasts as long as the requests before it take (one may wait days for an
# operator); a worker that dies meanwhile misses heartbeats and another one takes the wait over.
TURN_TIMEOUT = timedelta(days=1)
TURN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=[NAME_OWNED_BY_ANOTHER_ACCOUNT, REQUEST_ENDED],
)

# The plan asks the primary at most twice; if it cannot, the plan says `unknown` and the apply decides.
PLAN_TIMEOUT = timedelta(seconds=10)
PLAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
# The turn and the plan in one local activity (fewer-steps-to-apply): retried as a database write is.
TURNS_AND_PLANS_TIMEOUT = DB_TIMEOUT + PLAN_TIMEOUT

# Verify everywhere: the zone's servers are looked up (retried a few times), then asked. The first check
# waits inside its local activity for up to FIRST_CHECK_WAIT, as a NOTIFY and a transfer usually take
# well under a second; the servers still behind are asked again after durable timers.
SERVERS_TIMEOUT = timedelta(seconds=10)
SERVERS_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
CHECK_TIMEOUT = timedelta(seconds=15)
CHECK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
FIRST_CHECK_WAIT = timedelta(seconds=3)
# The first check of a zone with its servers' lookup, in one local activity (patch fewer-round-trips).
ZONE_CHECK_TIMEOUT = SERVERS_TIMEOUT + CHECK_TIMEOUT


def apply_retry(policy: ApplyPolicy) -> RetryPolicy:
    """Exponential backoff for the Ansible step; changes the server rejects are never retried."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=policy.initial_retry_seconds),
        backoff_coefficient=policy.retry_backoff,
        maximum_interval=timedelta(seconds=policy.max_retry_seconds),
        maximum_attempts=policy.max_attempts,
        non_retryable_error_types=[DNS_CHANGE_REJECTED, DNS_CHANGE_CONFLICT, NAME_OWNED_BY_ANOTHER_ACCOUNT],
    )


REFUSED_FOR_GOOD = frozenset({NAME_OWNED_BY_ANOTHER_ACCOUNT, DNS_CHANGE_CONFLICT})
"""Failures of the apply step that no retry or operator can fix: the request ends REJECTED."""


def refused_for_good(error: BaseException) -> bool:
    cause: BaseException | None = error
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return isinstance(cause, ApplicationError) and cause.type in REFUSED_FOR_GOOD


def failure_reason(error: BaseException) -> str:
    """The most specific message in an activity failure's cause chain."""
    cause: BaseException | None = error
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause) if cause is not None else "unknown error"
