"""Hostile HTTP that is not a request's fields: list filters, and bodies that are not DNS requests
(not JSON, not UTF-8, nested 10,000 deep, too large). A clear 4xx in the API's error shape, never
a 500, and the API stays up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.fixtures.hostile import (
    ACCOUNT,
    assert_error_shape,
    create_body,
    detail_of,
    hostile_processes,
    post_json,
    refused_fields,
    waiting_request,
)
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e

REQUESTS, RECORDS = "/api/v2/dns/requests", "/api/v2/dns/records"


@pytest.fixture(scope="module")
def hostile_stack(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessStack]:
    with hostile_processes(stack_env, tmp_path_factory.mktemp("hostile-http"), "worker", "api") as stack:
        yield stack


@pytest.fixture(scope="module")
def waiting(hostile_stack: ProcessStack) -> dict[str, Any]:
    """A request in PENDING_APPROVAL: a row that `OR 1=1` or a wildcard would return."""
    return detail_of(hostile_stack, waiting_request(hostile_stack))


# ---- list filters: bound parameters, and no 500 -------------------------------------------------


@pytest.mark.parametrize("param", ["status", "domain", "zone", "account_id", "source"])
def test_list_filter_with_sql_finds_nothing(
    hostile_stack: ProcessStack, waiting: dict[str, Any], param: str
) -> None:
    tag = waiting["request_id"][:6]  # the REST tests store HOSTILE["sql"] itself as an account id
    for value in (f"{tag}' OR 1=1 --", f"{tag}' OR 'a'='a", f"{tag}'); DROP TABLE dns_requests; --"):
        response = hostile_stack.http.get(REQUESTS, params={param: value})
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "\x00"], ids=["nul", "escape", "only-nul"])
@pytest.mark.parametrize("param", ["domain", "zone", "account_id"])
@pytest.mark.parametrize("path", [REQUESTS, RECORDS])
def test_list_filter_with_a_control_character_is_refused_naming_it(
    hostile_stack: ProcessStack, path: str, param: str, value: str
) -> None:
    response = hostile_stack.http.get(path, params={param: value})
    assert set(refused_fields(response)) & {param, f"query.{param}"}, response.text[:300]


@pytest.mark.parametrize("path", [REQUESTS, RECORDS])
def test_list_filter_zone_with_backslash_finds_nothing(hostile_stack: ProcessStack, path: str) -> None:
    response = hostile_stack.http.get(path, params={"zone": "\\"})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_list_filter_zone_wildcards_match_literally(
    hostile_stack: ProcessStack, waiting: dict[str, Any]
) -> None:
    for zone in ("%", "_%", "%test", "example_test"):
        response = hostile_stack.http.get(REQUESTS, params={"zone": zone})
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [], zone
    found = hostile_stack.http.get(REQUESTS, params={"zone": "example.test", "domain": waiting["domain"]})
    assert [item["request_id"] for item in found.json()["items"]] == [waiting["request_id"]]


@pytest.mark.parametrize("offset_minutes", [16 * 60, 23 * 60 + 59, -(23 * 60 + 59)])
def test_list_filter_time_with_a_far_utc_offset_is_the_same_instant(
    hostile_stack: ProcessStack, waiting: dict[str, Any], offset_minutes: int
) -> None:
    """ISO 8601 allows offsets to ±23:59, PostgreSQL only to ±15:59: the API converts to UTC."""
    created = datetime.fromisoformat(waiting["created_at"])
    far = timezone(timedelta(minutes=offset_minutes))
    just_before = (created - timedelta(seconds=1)).astimezone(far)
    just_after = (created + timedelta(seconds=1)).astimezone(far)
    filters = {"domain": waiting["domain"], "account_id": ACCOUNT}
    for params, expected in (
        ({"created_after": just_before.isoformat()}, [waiting["request_id"]]),
        ({"created_before": just_before.isoformat()}, []),
        ({"created_after": just_after.isoformat()}, []),
        ({"created_before": just_after.isoformat()}, [waiting["request_id"]]),
    ):
        response = hostile_stack.http.get(REQUESTS, params={**filters, **params})
        assert response.status_code == 200, response.text[:300]
        assert [item["request_id"] for item in response.json()["items"]] == expected, params


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+23:59"])
@pytest.mark.parametrize("param", ["created_after", "created_before"])
def test_list_filter_time_beyond_the_calendar_in_utc_is_refused_naming_it(
    hostile_stack: ProcessStack, param: str, value: str
) -> None:
    response = hostile_stack.http.get(REQUESTS, params={param: value})
    assert set(refused_fields(response)) & {param, f"query.{param}"}, response.text[:300]


# ---- JSON that is not a DNS request -----------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# Every one of these is under the API's body limit except the "oversized" ones: what is tested is
# the parser, not the limit.
NOT_JSON: dict[str, Callable[[], bytes]] = {
    "deep-arrays": lambda: b"[" * 10_000 + b"]" * 10_000,
    "deep-objects": lambda: _nested(10_000),
    "huge-integer": lambda: (
        json.dumps(create_body("int.example.test")).encode().replace(b'"ok"', b"9" * 20_000)
    ),
    "not-utf8-byte": lambda: b'{"context": {"account_id": "\xff\xfe"}}',
    "latin1": lambda: '{"context": {"account_id": "caf\u00e9"}}'.encode("latin-1"),
    "overlong-utf8": lambda: b'{"context": {"account_id": "\xc0\xaf"}}',
    "truncated": lambda: json.dumps(create_body("cut.example.test")).encode()[:-7],
    "garbage": lambda: b"\x00garbage" * 1000,
}
OTHER_BAD_BODIES: dict[str, Callable[[], bytes]] = {
    "oversized-comment": lambda: json.dumps(
        create_body("big.example.test", comment="x" * 1_000_000)
    ).encode(),
    "oversized-not-json": lambda: b"\x00garbage" * 125_000,
    "deep-in-extra-config": lambda: (
        json.dumps(create_body("deep.example.test", config={"extra_config": {}}))
        .encode()
        .replace(b'"extra_config": {}', b'"extra_config": ' + _nested(500))
    ),
    "cesu-surrogate": lambda: b'{"context": {"account_id": "\xed\xa0\x80"}}',
    "utf16-bom": lambda: b"\xff\xfe" + json.dumps({"context": {}}).encode("utf-16-le"),
    "empty": lambda: b"",
    "json-null": lambda: b"null",
    "json-string": lambda: b"\"{{ lookup('pipe','id') }}\"",
}
BODY_PATHS = ["/api/v1/dns/create", "/api/v2/dns/requests", "/api/v1/dns/update_status/{id}"]
BODY_PATHS += ["/api/v2/dns/requests/{id}/status", "/api/v2/dns/requests/{id}/actions/cancel"]


@pytest.fixture(scope="module")
def finished_request(hostile_stack: ProcessStack) -> str:
    request_id = waiting_request(hostile_stack)
    path = f"/api/v2/dns/requests/{request_id}/actions/reject"
    assert post_json(hostile_stack, path, {"note": "target of the bad-body tests"}).status_code == 200
    return request_id


def _post_raw(stack: ProcessStack, path: str, request_id: str, raw: bytes) -> Any:
    return stack.http.post(
        path.replace("{id}", request_id), content=raw, headers={"content-type": "application/json"}
    )


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("kind", list(NOT_JSON))
def test_a_body_that_is_not_json_is_a_422_naming_the_body(
    hostile_stack: ProcessStack, finished_request: str, kind: str, path: str
) -> None:
    response = _post_raw(hostile_stack, path, finished_request, NOT_JSON[kind]())
    assert refused_fields(response) == ["body"], response.text[:300]
    reason = assert_error_shape(response)["details"][0]["reason"]
    assert reason.startswith(("is not valid JSON", "is not JSON text", "is nested", "holds a number")), reason


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("kind", list(OTHER_BAD_BODIES))
def test_a_bad_body_gets_a_clear_4xx_and_the_api_stays_up(
    hostile_stack: ProcessStack, finished_request: str, kind: str, path: str
) -> None:
    response = _post_raw(hostile_stack, path, finished_request, OTHER_BAD_BODIES[kind]())
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert_error_shape(response)
    if kind.startswith("oversized"):
        assert response.status_code == 413
    assert hostile_stack.http.get("/healthz").status_code == 200


def test_api_process_survived_the_hostile_bodies(hostile_stack: ProcessStack) -> None:
    assert all(proc.poll() is None for proc in hostile_stack.procs.values())
    assert hostile_stack.http.get("/readyz").status_code == 200
