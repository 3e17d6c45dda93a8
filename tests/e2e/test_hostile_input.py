"""Hostile strings in every field of a REST request: refused with 422 naming the field, or stored and
applied literally; never executed, never templated, never a 500.

The other front doors have their own modules: test_hostile_input_http.py (bodies that are not
requests, list filters) and test_hostile_input_kafka.py. The TXT tests approve their requests and
read the answer back from BIND.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from dnsorch.contracts import RecordRow
from dnsorch.store import request_rows, served_records
from tests.fixtures.dns import served, served_rrset
from tests.fixtures.hostile import (
    ACCOUNT,
    CREATE_FIELDS,
    HOSTILE,
    assert_error_shape,
    assert_no_5xx,
    assert_refused_naming,
    create_body,
    detail_of,
    field_params,
    hostile_processes,
    place,
    post_json,
    unique_domain,
    wait_v2,
    waiting_request,
)
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.e2e

# No field can keep these as sent (PostgreSQL holds no NUL, UTF-8 no lone surrogate; control
# characters and 10 kB are beyond every field's rules): each must be a 422 naming the field.
REFUSED_EVERYWHERE = ["nul", "lone-surrogate", "escape", "bell-del", "10kb"]
# What gets past validation in a TXT target, so it must be served exactly as sent.
TXT_SERVED = ["jinja-lookup", "jinja-block", "shell-subst", "backticks", "shell-chain", "sql"]
TXT_SERVED += ["quotes-backslash", "unicode-separators", "emoji"]
TXT_LONG_MULTIBYTE = "🚀" * 100  # 400 bytes: split into 255-byte character-strings mid-character


@pytest.fixture(scope="module")
def hostile_stack(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessStack]:
    with hostile_processes(stack_env, tmp_path_factory.mktemp("hostile-rest"), "worker", "api") as stack:
        yield stack


def seed_managed_txt(engine: Engine, domain: str) -> None:
    """A TXT record at `domain` as a completed create leaves it in PostgreSQL (BIND is not needed)."""
    spec = request_spec(account_id=ACCOUNT, record_type="TXT", domain=domain, target="seed")
    now = datetime.now(UTC)
    row = RecordRow(spec.request_id, "TXT", domain, "seed", 300, None, None, now, "create", ACCOUNT)
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, now)
        served_records.apply_record(conn, row)


def stored(detail: dict[str, Any], field: str, sent: str) -> tuple[Any, Any]:
    """(what the API stored, what it must equal): names are kept as DNS compares them."""
    if field == "extra_config value":
        return detail["config"]["extra_config"].get("note"), sent
    if field == "extra_config key":
        return detail["config"]["extra_config"].get(sent), "v"
    name = field.split(".")[1]
    expected = {
        "record_type": sent.strip().upper(),
        "domain": sent.rstrip(".").lower(),
    }.get(name, sent)
    return detail[name], expected


def check_refused_or_stored(stack: ProcessStack, response: Any, accepted: int, field: str, name: str) -> None:
    assert_no_5xx(response)
    if response.status_code != accepted or name in REFUSED_EVERYWHERE:
        assert_refused_naming(response, CREATE_FIELDS.get(field, field))
        return
    got, expected = stored(detail_of(stack, response.json()["request_id"]), field, HOSTILE[name])
    assert got == expected


def _assert_note_logged(stack: ProcessStack, request_id: str, verb: str, note: str) -> None:
    """The timeline names the caller (`… by <key name> (<role>): <note>`) and keeps the note as sent."""
    timeline = wait_v2(stack, request_id, {"CANCELLED"})["timeline"]
    assert any(e["message"].endswith(f"{verb} by {e['actor']}: {note}") for e in timeline), timeline


# ---- create bodies: v1 and v2 ----------------------------------------------------------------


@pytest.mark.parametrize(("field", "name"), field_params(list(CREATE_FIELDS)))
def test_v1_create_refuses_or_stores_literally(hostile_stack: ProcessStack, field: str, name: str) -> None:
    body = create_body(unique_domain("v1"))
    place(body, field, HOSTILE[name])
    response = post_json(hostile_stack, "/api/v1/dns/create", body)
    check_refused_or_stored(hostile_stack, response, 200, field, name)


@pytest.mark.parametrize(("field", "name"), field_params([*CREATE_FIELDS, "operation"]))
def test_v2_create_refuses_or_stores_literally(hostile_stack: ProcessStack, field: str, name: str) -> None:
    body: dict[str, Any] = {"operation": "create", **create_body(unique_domain("v2"))}
    if field == "operation":
        body["operation"] = HOSTILE[name]
    else:
        place(body, field, HOSTILE[name])
    response = post_json(hostile_stack, "/api/v2/dns/requests", body)
    check_refused_or_stored(hostile_stack, response, 202, field, name)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_v2_delete_ignores_a_hostile_target(hostile_stack: ProcessStack, engine: Engine, name: str) -> None:
    """A delete names the record set by name and type: a target sent with it is not stored or used,
    unless the body itself is malformed (not Unicode, too long), which is refused naming it."""
    domain = unique_domain("del")
    seed_managed_txt(engine, domain)  # a delete needs a record set dnsorch manages
    body = {"operation": "delete", **create_body(domain, target=HOSTILE[name])}
    response = post_json(hostile_stack, "/api/v2/dns/requests", body)
    assert_no_5xx(response)
    if name in ("lone-surrogate", "10kb"):
        assert_refused_naming(response, "resource.target")
        return
    assert response.status_code == 202, response.text[:300]
    assert detail_of(hostile_stack, response.json()["request_id"])["target"] == ""


# Only what HTTP carries in a header: httpx refuses to send control characters or non-ASCII there.
@pytest.mark.parametrize("name", ["jinja-lookup", "shell-subst", "backticks", "sql", "quotes-backslash"])
def test_v2_idempotency_key_refuses_or_keeps_the_request(hostile_stack: ProcessStack, name: str) -> None:
    """Header values are printable ASCII only; an accepted odd key still maps to one request."""
    value = HOSTILE[name]
    body = {"operation": "create", **create_body(unique_domain("idem"))}
    first = post_json(hostile_stack, "/api/v2/dns/requests", body, {"Idempotency-Key": value})
    assert_no_5xx(first)
    if first.status_code != 202:
        assert_refused_naming(first, "header.idempotency-key")
        return
    again = post_json(hostile_stack, "/api/v2/dns/requests", body, {"Idempotency-Key": value})
    assert again.status_code == 202, again.text
    assert again.json()["request_id"] == first.json()["request_id"]


# ---- extra_config: what JSON can say but PostgreSQL, Temporal or the playbook cannot take -------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("extra_config", "resource.config.extra_config"),
        ("ttl", "resource.config.ttl"),
        ("priority", "resource.config.priority"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/dns/create", "/api/v2/dns/requests"])
def test_a_non_finite_number_is_refused_naming_the_field(
    hostile_stack: ProcessStack, path: str, where: str, field: str, literal: str
) -> None:
    """Python's json module reads these, though JSON has no such numbers (nor does JSONB)."""
    config = {"extra_config": {"x": "__N__"}} if where == "extra_config" else {where: "__N__"}
    raw = json.dumps(create_body(unique_domain("nan"), config=config)).replace('"__N__"', literal)
    response = hostile_stack.http.post(
        path, content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert_refused_naming(response, field)


EXTRA_CONFIG_LIMITS = {
    "21-keys": ({f"k{n}": n for n in range(21)}, False),
    "20-keys": ({f"k{n}": n for n in range(20)}, True),
    "65-character-key": ({"k" * 65: 1}, False),
    "64-character-key": ({"k" * 64: 1}, True),
    "1000-character-key": ({"k" * 1000: 1}, False),
    "257-character-value": ({"x": "v" * 257}, False),
    "nested": ({"x": {"y": [1]}}, False),
    "scalars": ({"s": "🚀", "i": -7, "f": 0.25, "b": False, "n": None}, True),
}


@pytest.mark.parametrize(
    ("extra", "accepted"), list(EXTRA_CONFIG_LIMITS.values()), ids=list(EXTRA_CONFIG_LIMITS)
)
def test_extra_config_is_bounded_and_kept_as_sent_within_the_bounds(
    hostile_stack: ProcessStack, extra: dict[str, Any], accepted: bool
) -> None:
    body = create_body(unique_domain("extra"), config={"extra_config": extra})
    response = post_json(hostile_stack, "/api/v1/dns/create", body)
    if not accepted:
        assert_refused_naming(response, "resource.config.extra_config")
        return
    assert response.status_code == 200, response.text[:300]
    assert detail_of(hostile_stack, response.json()["request_id"])["config"]["extra_config"] == extra


# ---- operator notes and status messages ---------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE))
def test_v2_action_note_refuses_or_logs_literally(hostile_stack: ProcessStack, name: str) -> None:
    value, request_id = HOSTILE[name], waiting_request(hostile_stack)
    response = post_json(hostile_stack, f"/api/v2/dns/requests/{request_id}/actions/cancel", {"note": value})
    assert_no_5xx(response)
    if response.status_code != 200 or name in REFUSED_EVERYWHERE:
        assert_refused_naming(response, "note")
        return
    assert response.json()["status"] == "CANCELLED"
    _assert_note_logged(hostile_stack, request_id, "cancelled", value)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_v2_status_message_refuses_or_logs_literally(hostile_stack: ProcessStack, name: str) -> None:
    value, request_id = HOSTILE[name], waiting_request(hostile_stack)
    document = {"status": "CANCELLED", "message": value}
    response = post_json(hostile_stack, f"/api/v2/dns/requests/{request_id}/status", document)
    assert_no_5xx(response)
    if response.status_code != 200 or name in REFUSED_EVERYWHERE:
        assert_refused_naming(response, "message")
        return
    _assert_note_logged(hostile_stack, request_id, "cancelled", value)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_v1_status_message_refuses_or_logs_literally(hostile_stack: ProcessStack, name: str) -> None:
    value, request_id = HOSTILE[name], waiting_request(hostile_stack)
    document = {"status": "CANCELLED", "message": value}
    response = post_json(hostile_stack, f"/api/v1/dns/update_status/{request_id}", document)
    assert_no_5xx(response)
    if response.status_code != 202 or name in REFUSED_EVERYWHERE:
        assert_refused_naming(response, "message")
        return
    _assert_note_logged(hostile_stack, request_id, "cancelled", value)


@pytest.mark.parametrize("name", ["jinja-lookup", "shell-subst", "nul", "10kb"])
def test_hostile_status_and_action_names_are_refused(hostile_stack: ProcessStack, name: str) -> None:
    value, request_id = HOSTILE[name], str(uuid.uuid4())
    for path, document in (
        (f"/api/v1/dns/update_status/{request_id}", {"status": value}),
        (f"/api/v2/dns/requests/{request_id}/status", {"status": value}),
    ):
        assert_refused_naming(post_json(hostile_stack, path, document), "status")
    action = urllib.parse.quote(value[:200], safe="")
    response = hostile_stack.http.post(f"/api/v2/dns/requests/{request_id}/actions/{action}", json={})
    assert_no_5xx(response)
    assert 400 <= response.status_code < 500
    assert_error_shape(response)


# ---- DNS: hostile values are served byte for byte ----------------------------------------------


def txt_served(bind_server: Any, name: str) -> list[str]:
    """The TXT answer, as the bytes BIND serves (its character-strings joined, decoded)."""
    rdatas = served_rrset(bind_server, name, "TXT").rdatas
    return [b"".join(rdata.strings).decode() for rdata in rdatas]  # type: ignore[attr-defined]


def test_hostile_txt_values_are_served_exactly_as_sent(hostile_stack: ProcessStack, bind_server: Any) -> None:
    """Through the API, the workflow, the payload file, Ansible and nsupdate, and back from BIND."""
    values = {name: HOSTILE[name] for name in TXT_SERVED} | {"long-multibyte": TXT_LONG_MULTIBYTE}
    requests: dict[str, tuple[str, str]] = {}
    for name, value in values.items():
        domain = unique_domain(f"txt-{name}")
        response = post_json(hostile_stack, "/api/v1/dns/create", create_body(domain, target=value))
        assert response.status_code == 200, (name, response.text)
        requests[name] = (response.json()["request_id"], domain)
    for name, (request_id, _domain) in requests.items():
        wait_v2(hostile_stack, request_id, {"PENDING_APPROVAL"})
        note = values[name] if name in TXT_SERVED else "approved"  # the note travels too
        path = f"/api/v2/dns/requests/{request_id}/actions/approve"
        assert post_json(hostile_stack, path, {"note": note}).status_code == 200
    failures: list[tuple[Any, ...]] = []
    for name, (request_id, domain) in requests.items():
        detail = wait_v2(hostile_stack, request_id, {"COMPLETED", "NEEDS_ATTENTION", "FAILED"}, timeout=120)
        strings = txt_served(bind_server, domain)
        presented = " ".join(served_rrset(bind_server, domain, "TXT").values)
        note = values[name] if name in TXT_SERVED else "approved"
        approvals = [e for e in detail["timeline"] if e["message"].startswith("approved by")]
        if [e["message"] for e in approvals] != [f"approved by {e['actor']}: {note}" for e in approvals]:
            failures.append((name, "approval note", approvals))
        if len(approvals) != 1:
            failures.append((name, "approvals", approvals))
        if detail["status"] != "COMPLETED" or strings != [values[name]] or "uid=" in presented:
            failures.append((name, detail["status"], strings, detail["timeline"][-1]["message"]))
        assert detail["record"] is None or detail["record"]["target"] == values[name]
    assert not failures, failures


@pytest.mark.parametrize(
    ("record_type", "owner", "target", "config", "answer"),
    [
        (
            "SRV",
            "_sip._tcp",
            "sip.example.test",
            {"priority": 10, "extra_config": {"port": 5060}},
            "10 0 5060 sip.example.test.",
        ),
        (
            "TXT",
            "plain",
            "with a note",
            {"extra_config": {"note": "{{ lookup('pipe','id') }}"}},
            '"with a note"',
        ),
    ],
    ids=["srv-port", "txt-extra-note"],
)
def test_a_request_with_extra_config_is_provisioned(
    hostile_stack: ProcessStack,
    bind_server: Any,
    record_type: str,
    owner: str,
    target: str,
    config: dict[str, Any],
    answer: str,
) -> None:
    domain = f"{owner}.{unique_domain('extra')}"
    body = create_body(domain, target=target, config=config)
    body["resource"]["record_type"] = record_type
    response = post_json(hostile_stack, "/api/v1/dns/create", body)
    assert response.status_code == 200, response.text
    request_id = response.json()["request_id"]
    wait_v2(hostile_stack, request_id, {"PENDING_APPROVAL"}, timeout=20)
    path = f"/api/v2/dns/requests/{request_id}/actions/approve"
    assert post_json(hostile_stack, path, {"note": "go"}).status_code == 200
    done = wait_v2(hostile_stack, request_id, {"COMPLETED", "NEEDS_ATTENTION"}, timeout=60)
    assert done["status"] == "COMPLETED", done["timeline"][-1]
    assert served(bind_server, domain, record_type) == [answer]  # exactly this, nothing templated
