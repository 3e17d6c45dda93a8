"""A name belongs to its account, on the real stack: another account can neither take it over nor
remove it, through v1 or v2, and of two accounts racing for a new name exactly one wins."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dnsorch.store import keys
from tests.fixtures.api_v2 import FINAL, as_account, body, post_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e


def assert_owned_elsewhere(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "name_owned_by_another_account"
    assert "belongs to another account" in error["message"]


def test_another_account_can_neither_take_over_nor_remove_a_name(
    stack: ProcessStack, bind_server: Any
) -> None:
    name = f"shop-{uuid.uuid4().hex[:6]}.example.test"
    owner = post_v2(stack, as_account(body(name, "192.0.2.50"), "acct-shop-a")).json()
    assert stack.wait_for_status(owner["request_id"], FINAL)["status"] == "COMPLETED"

    for operation, target in (("create", "203.0.113.66"), ("update", "203.0.113.66"), ("delete", "")):
        assert_owned_elsewhere(post_v2(stack, as_account(body(name, target, operation), "acct-shop-b")))
    v1 = as_account(body(name, "203.0.113.66"), "acct-shop-b")
    del v1["operation"]
    assert_owned_elsewhere(stack.http.post("/api/v1/dns/create", json=v1, timeout=30))
    assert served(bind_server, name) == ["192.0.2.50"]

    update = post_v2(stack, as_account(body(name, "192.0.2.51", "update"), "acct-shop-a")).json()
    assert stack.wait_for_status(update["request_id"], FINAL)["status"] == "COMPLETED"
    assert served(bind_server, name) == ["192.0.2.51"]


def test_of_two_accounts_racing_for_a_new_name_exactly_one_wins(
    stack: ProcessStack, bind_server: Any
) -> None:
    name = f"race-{uuid.uuid4().hex[:6]}.example.test"
    contenders = {"acct-race-a": "192.0.2.70", "acct-race-b": "192.0.2.71"}
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda item: post_v2(stack, as_account(body(name, item[1]), item[0])), contenders.items()
            )
        )
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    finals = {  # map keeps order: the i-th answer is the i-th account's
        account: stack.wait_for_status(answer.json()["request_id"], FINAL)
        for account, answer in zip(contenders, answers, strict=True)
    }
    outcomes = sorted(detail["status"] for detail in finals.values())
    assert outcomes == ["COMPLETED", "REJECTED"], finals
    winner = next(account for account, detail in finals.items() if detail["status"] == "COMPLETED")
    loser = next(detail for detail in finals.values() if detail["status"] == "REJECTED")
    assert any("belongs to another account" in entry["message"] for entry in loser["log_messages"]), loser
    assert served(bind_server, name) == [contenders[winner]]


def test_create_means_create_and_a_conflict_is_refused_at_once(stack: ProcessStack, bind_server: Any) -> None:
    name = f"once-{uuid.uuid4().hex[:6]}.example.test"
    first = post_v2(stack, as_account(body(name, "192.0.2.80"), "acct-once")).json()
    assert stack.wait_for_status(first["request_id"], FINAL)["status"] == "COMPLETED"

    refusals = {
        "already_exists": body(name, "192.0.2.81"),
        "record_does_not_exist": body(name, "v=spf1 -all", "update", rtype="TXT"),
        "conflicts_with_existing_data": body(name, "www.example.test", rtype="CNAME"),
    }
    for code, payload in refusals.items():
        answer = post_v2(stack, as_account(payload, "acct-once"))
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == code
    assert served(bind_server, name) == ["192.0.2.80"]
    assert served(bind_server, name, "CNAME") == []


def test_an_operator_transfers_a_name_and_only_the_new_owner_may_change_it(
    stack: ProcessStack, bind_server: Any, engine: Engine
) -> None:
    name = f"moved-{uuid.uuid4().hex[:6]}.example.test"
    first = post_v2(stack, as_account(body(name, "192.0.2.90"), "acct-from")).json()
    assert stack.wait_for_status(first["request_id"], FINAL)["status"] == "COMPLETED"
    new_owner = stack.client(keys.create_key(engine, "acct-to", "submitter", f"to-{name}")[1])

    # A submitter may neither transfer nor see another account's name.
    assert (
        new_owner.post(f"/api/v2/dns/names/{name}/transfer", json={"account_id": "acct-to"}).status_code
        == 403
    )
    assert new_owner.get(f"/api/v2/dns/names/{name}").status_code == 404

    moved = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnsorch.cli",
            "names",
            "transfer",
            name,
            "--to",
            "acct-to",
            "--note",
            "team split",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **stack.env, "DNSORCH_API_URL": stack.api_url},
    )
    assert moved.returncode == 0, moved.stderr
    assert f"{name}: account acct-to" in moved.stdout and "acct-from → acct-to" in moved.stdout

    shown = new_owner.get(f"/api/v2/dns/names/{name}").json()
    assert shown["account_id"] == "acct-to"
    [transfer] = shown["transfers"]
    assert (transfer["from_account"], transfer["to_account"], transfer["note"]) == (
        "acct-from",
        "acct-to",
        "team split",
    )
    assert transfer["actor"]  # the operator's key, by name

    assert_owned_elsewhere(post_v2(stack, as_account(body(name, "192.0.2.91", "update"), "acct-from")))
    update = new_owner.post(
        "/api/v2/dns/requests", json=as_account(body(name, "192.0.2.92", "update"), "acct-to")
    )
    assert update.status_code == 202, update.text
    assert stack.wait_for_status(update.json()["request_id"], FINAL)["status"] == "COMPLETED"
    assert served(bind_server, name) == ["192.0.2.92"]
