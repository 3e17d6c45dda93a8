"""Which operator actions and manual statuses are legal in which state (pure; used in workflows).

Every manual change is an action: a v2 status change maps onto one (FAILED → fail, …), so the
same table decides what an operator may do however they ask.
"""

from __future__ import annotations

from dnsorch.contracts import Action, RequestStatus

S, A = RequestStatus, Action

ALLOWED_ACTIONS: dict[RequestStatus, frozenset[Action]] = {
    S.PENDING: frozenset({A.CANCEL, A.FAIL}),
    S.PENDING_APPROVAL: frozenset({A.APPROVE, A.REJECT, A.CANCEL}),
    S.SCHEDULED: frozenset({A.CANCEL}),
    S.FROZEN: frozenset({A.CANCEL, A.LET_THROUGH}),
    S.IN_PROGRESS: frozenset({A.CANCEL, A.FAIL, A.RESOLVE}),
    S.NEEDS_ATTENTION: frozenset({A.RETRY, A.RESOLVE, A.FAIL, A.CANCEL, A.ROLLBACK}),
}

ACTION_FOR_STATUS: dict[RequestStatus, Action] = {
    S.COMPLETED: A.RESOLVE,
    S.FAILED: A.FAIL,
    S.CANCELLED: A.CANCEL,
    S.REJECTED: A.REJECT,
    S.IN_PROGRESS: A.RETRY,
    S.ROLLED_BACK: A.ROLLBACK,
}


class IllegalTransition(ValueError):
    """Refused synchronously: the request's history never sees it."""


def allowed_actions(status: str) -> list[str]:
    return sorted(a.value for a in ALLOWED_ACTIONS.get(RequestStatus(status), frozenset()))


def check_action(status: str, action: str) -> Action:
    try:
        chosen = Action(action)
    except ValueError:
        raise IllegalTransition(f"unknown action {action!r}") from None
    if chosen not in ALLOWED_ACTIONS.get(RequestStatus(status), frozenset()):
        allowed = ", ".join(allowed_actions(status)) or "none"
        raise IllegalTransition(f"cannot {chosen.value} a request that is {status} (allowed: {allowed})")
    return chosen


def action_for_status(current: str, wanted: str) -> Action:
    """The action a manual status change means here, or IllegalTransition."""
    try:
        target = RequestStatus(wanted)
    except ValueError:
        raise IllegalTransition(f"unknown status {wanted!r}") from None
    action = ACTION_FOR_STATUS.get(target)
    if action is None:
        raise IllegalTransition(f"a request cannot be set to {target.value} by hand")
    try:
        return check_action(current, action.value)
    except IllegalTransition:
        raise IllegalTransition(f"cannot change a request from {current} to {target.value}") from None
