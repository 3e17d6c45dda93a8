"""Four-eyes approval (issue 26; APPROVAL_FOUR_EYES): nobody approves their own request, neither
the key that submitted it nor anyone of the submitting account. Checked before the workflow is
asked, against the request row in PostgreSQL; the gateway here records what reached it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from dnsorch.contracts import AlreadyApproved, FourEyes, LogStep, OperatorAction
from dnsorch.requests import OperateService
from dnsorch.store import request_rows
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration


class Gateway:
    """Stands in for Temporal: every approval that gets this far is 'applied'."""

    def __init__(self) -> None:
        self.sent: list[OperatorAction] = []

    async def act(self, workflow_id: str, action: OperatorAction) -> str:
        self.sent.append(action)
        return "IN_PROGRESS"


def submitted(engine: Engine, account: str, key_id: str) -> uuid.UUID:
    spec = request_spec(account_id=account, submitted_by=key_id, zone=f"four-{uuid.uuid4().hex[:6]}.test")
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, datetime.now(UTC))
    return uuid.UUID(spec.request_id)


@pytest.mark.parametrize(
    ("approver", "refusal"),
    [
        (("k-submit", "acct-ops"), "the key that submitted the request"),  # an admin key for acct-a
        (("k-other", "acct-a"), "acct-a submitted the request"),
        (None, "must be named by an API key"),
    ],
)
async def test_an_approval_by_the_submitter_is_refused_and_never_reaches_the_workflow(
    engine: Engine, approver: tuple[str, str] | None, refusal: str
) -> None:
    gateway = Gateway()
    operate = OperateService(engine, gateway, four_eyes=True)  # type: ignore[arg-type]
    request_id = submitted(engine, "acct-a", "k-submit")
    with pytest.raises(FourEyes, match=refusal):
        await operate.act(request_id, "approve", "lgtm", actor="someone", by=approver)
    assert gateway.sent == []


async def test_another_accounts_approver_goes_through_and_other_actions_are_not_checked(
    engine: Engine,
) -> None:
    gateway = Gateway()
    operate = OperateService(engine, gateway, four_eyes=True)  # type: ignore[arg-type]
    request_id = submitted(engine, "acct-a", "k-submit")
    assert (
        await operate.act(request_id, "approve", "", actor="rev", by=("k-rev", "acct-ops")) == "IN_PROGRESS"
    )
    await operate.act(request_id, "cancel", "", actor="me", by=("k-submit", "acct-a"))
    assert [a.action for a in gateway.sent] == ["approve", "cancel"]


async def test_without_four_eyes_the_submitter_may_approve(engine: Engine) -> None:
    gateway = Gateway()
    operate = OperateService(engine, gateway)  # type: ignore[arg-type]
    request_id = submitted(engine, "acct-a", "k-submit")
    await operate.act(request_id, "approve", "", actor="me", by=("k-submit", "acct-a"))
    assert len(gateway.sent) == 1


def approved_by(engine: Engine, request_id: uuid.UUID, key_id: str) -> None:
    """The workflow's timeline line for a counted approval, as the database activity writes it."""
    step = LogStep(
        request_id=str(request_id),
        entry_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
        message="approval 1 of 2 by rev (operator)",
        step="approval",
        actor="rev (operator)",
        approver=key_id,
    )
    with engine.begin() as conn:
        request_rows.append_step(conn, step)


@pytest.mark.parametrize("four_eyes", [True, False])
async def test_an_approver_may_not_approve_twice(engine: Engine, four_eyes: bool) -> None:
    gateway = Gateway()
    operate = OperateService(engine, gateway, four_eyes=four_eyes)  # type: ignore[arg-type]
    request_id = submitted(engine, "acct-a", "k-submit")
    approved_by(engine, request_id, "k-rev")
    with pytest.raises(AlreadyApproved, match="this API key approved the request already"):
        await operate.act(request_id, "approve", "again", actor="rev", by=("k-rev", "acct-ops"))
    assert gateway.sent == []
    await operate.act(request_id, "approve", "", actor="other", by=("k-other", "acct-ops"))
    assert [a.key_id for a in gateway.sent] == ["k-other"]


async def test_an_approval_carries_the_approvers_key_and_account_to_the_workflow(engine: Engine) -> None:
    gateway = Gateway()
    operate = OperateService(engine, gateway, four_eyes=True)  # type: ignore[arg-type]
    request_id = submitted(engine, "acct-a", "k-submit")
    await operate.act(request_id, "approve", "lgtm", actor="rev (operator)", by=("k-rev", "acct-ops"))
    [sent] = gateway.sent
    assert (sent.actor, sent.key_id, sent.account_id, sent.note) == (
        "rev (operator)",
        "k-rev",
        "acct-ops",
        "lgtm",
    )
