"""Approval rules per zone and per account (issue 26), computed at accept into the workflow's input:
a request below a production name or from a paying account needs more distinct approvers, and a lab
zone judges its own risks. The real app, accept service and PostgreSQL; Temporal is a stub that
keeps what it was asked to start."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from dnsorch.contracts import ProvisioningInput
from dnsorch.requests import AcceptService
from dnsorch.settings import Settings
from tests.fixtures.auth import act_as
from tests.fixtures.kept_starts import KeptStarts

pytestmark = pytest.mark.integration


@pytest.fixture
def temporal() -> KeptStarts:
    return KeptStarts()


@pytest.fixture
def api(engine: Engine, database_url: str, temporal: KeptStarts) -> Iterator[TestClient]:
    env = {  # as the environment spells them
        "approval_record_types": "TXT",
        "approval_risks": "mx",
        "approval_zone_approvers": "prod.example.test=2",
        "approval_account_approvers": "acct-pay=3",
        "approval_zone_risks": "lab.example.test=none prod.example.test=mx+dangling_target",
    }
    settings = Settings(
        database_url=database_url,
        temporal_address="127.0.0.1:1",
        dns_zones=["example.test"],
        **env,  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings)) as client:
        client.app.state.accept = AcceptService(engine, temporal, settings)  # type: ignore[arg-type,attr-defined]
        act_as(client.app)  # type: ignore[arg-type]
        yield client


def post(
    api: TestClient, temporal: KeptStarts, label: str, rtype: str, account: str = "acct-42"
) -> ProvisioningInput:
    """Create `rtype` at a fresh name under `label`; what accept handed the workflow."""
    domain = f"r{uuid.uuid4().hex[:8]}.{label}"
    target, config = {
        "TXT": ("hello", {}),
        "MX": ("mail.example.test", {"priority": 10}),
        "CNAME": ("www.example.test", {}),
    }[rtype]
    payload: dict[str, Any] = {
        "operation": "create",
        "context": {"account_id": account},
        "resource": {"record_type": rtype, "domain": domain, "target": target, "config": config},
    }
    before = len(temporal.started)
    answer = api.post("/api/v2/dns/requests", json=payload)
    assert answer.status_code == 202, answer.text
    started = temporal.until_sync(before + 1)[-1]
    assert started.request.domain == domain
    return started


def test_a_request_below_a_listed_name_needs_its_number_of_approvers(
    api: TestClient, temporal: KeptStarts
) -> None:
    prod = post(api, temporal, "prod.example.test", "TXT")
    assert (prod.approval_required, prod.approvals_required) == (True, 2)
    assert "needs 2 distinct approvers" in prod.approval_reasons
    elsewhere = post(api, temporal, "example.test", "TXT")
    assert (elsewhere.approval_required, elsewhere.approvals_required) == (True, 1)


def test_an_accounts_number_applies_and_the_highest_number_wins(
    api: TestClient, temporal: KeptStarts
) -> None:
    paying = post(api, temporal, "prod.example.test", "TXT", account="acct-pay")
    assert (paying.approval_required, paying.approvals_required) == (True, 3)


def test_a_zone_with_its_own_risks_judges_them_instead_of_approval_risks(
    api: TestClient, temporal: KeptStarts
) -> None:
    lab = post(api, temporal, "lab.example.test", "MX")
    assert not lab.approval_required and lab.approvals_required == 1
    assert "routine change" in lab.approval_verdict
    elsewhere = post(api, temporal, "example.test", "MX")
    assert elsewhere.approval_required and any("MX change" in r for r in elsewhere.approval_reasons)


def test_a_zone_that_lists_dangling_target_holds_its_plans(api: TestClient, temporal: KeptStarts) -> None:
    assert post(api, temporal, "prod.example.test", "CNAME").hold_dangling_targets
    assert not post(api, temporal, "example.test", "CNAME").hold_dangling_targets, "not in APPROVAL_RISKS"
