"""schemathesis fuzzes every operation of the OpenAPI spec on the live API: no 5xx, answers as documented.

Every case goes over real HTTP to the `stack` fixture's API, with PostgreSQL, Temporal, a worker and
BIND behind it. The spec is built at collection time from the same routers the API mounts (the live
server does not exist yet then), and `test_the_fuzzed_spec_is_the_served_spec` proves it is the one
the API serves. Path parameter `request_id` is often a request that exists, so the read, action and
status endpoints get past their 404. Generation is derandomized: CI sees the same cases every run.

No operation is excluded, and every case authenticates as the stack's admin key, so it reaches the
operation's own rules. schemathesis runs three phases per operation: its coverage phase (boundary
values, missing and wrongly typed fields, wrong methods), then positive and negative fuzzing. Every
refusal must be in the API's one error shape, which is what the served OpenAPI documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api import health
from api.errors import install_error_handlers
from api.main import include_versioned_routers
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e

# Fuzzing-phase cases per operation; the coverage phase adds its own (≈30-120 per operation), so
# each operation sees a few hundred cases (≈35 s for the module on a quiet 2-core machine).
MAX_EXAMPLES = 250


def _spec() -> dict[str, Any]:
    """The spec of the API's routes, without starting anything (no settings, database or Temporal)."""
    app = FastAPI(title="dnsorch")
    install_error_handlers(app)  # it documents the API's error shape
    app.include_router(health.router)
    include_versioned_routers(app)
    return app.openapi()


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)

# Filled by the `existing_request_ids` fixture before any case is drawn; read while drawing.
_EXISTING: list[str] = []


@schema.hook("flatmap_path_parameters")
def often_a_request_that_exists(_context: Any, path_parameters: dict[str, Any]) -> Any:
    if not isinstance(path_parameters, dict) or "request_id" not in path_parameters or not _EXISTING:
        return st.just(path_parameters)
    real = st.sampled_from(_EXISTING).map(lambda request_id: {**path_parameters, "request_id": request_id})
    return st.one_of(st.just(path_parameters), real)


@pytest.fixture(scope="module")
def existing_request_ids(stack: ProcessStack) -> list[str]:
    """Two finished requests: actions and status changes on them reach their workflow (409)."""
    ids = []
    for n in range(2):
        response = stack.http.post(
            "/api/v1/dns/create",
            json={
                "context": {"account_id": "acct-fuzz"},
                "resource": {"record_type": "A", "domain": f"fuzz{n}.example.test", "target": "192.0.2.50"},
            },
        )
        assert response.status_code == 200, response.text
        ids.append(response.json()["request_id"])
    for request_id in ids:
        stack.wait_for_status(request_id, {"COMPLETED"})
    _EXISTING[:] = ids
    return ids


@pytest.fixture(scope="module", autouse=True)
def no_freeze_left(stack: ProcessStack) -> Iterator[None]:
    """Fuzzed bodies can declare a real freeze window (of every zone, even): each is ended after the
    module, or the session's later tests would wait in FROZEN behind it."""
    yield
    for window in stack.http.get("/api/v2/freezes", timeout=30).json()["items"]:
        stack.http.delete(f"/api/v2/freezes/{window['id']}", timeout=30)


def error_body_has_the_api_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every refusal uses the API's one error shape: {"error": {"code", "message", "details"}}."""
    if not 400 <= response.status_code < 500:
        return None  # 5xx: `not_a_server_error` reports it
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} is not JSON: {response.text[:300]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} without the error shape: {response.text[:300]}"
    assert isinstance(error.get("code"), str) and error["code"], response.text[:300]
    assert isinstance(error.get("message"), str), response.text[:300]
    assert isinstance(error.get("details"), list), response.text[:300]
    return None


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    error_body_has_the_api_shape,
]
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Most generated bodies are refused (422) and many path ids are replaced: that is the point.
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ_SETTINGS
@schema.parametrize()
def test_every_operation_answers_without_5xx_and_as_documented(
    case: Any, stack: ProcessStack, existing_request_ids: list[str]
) -> None:
    # As the stack's admin: every operation gets past authentication to its own rules.
    auth = {"Authorization": stack.http.headers["Authorization"]} if stack.api_key else {}
    case.call_and_validate(base_url=stack.api_url, headers=auth, checks=CHECKS, timeout=60)


def test_the_fuzzed_spec_is_the_served_spec(stack: ProcessStack) -> None:
    served = stack.http.get("/openapi.json").json()
    assert served["paths"] == SPEC["paths"]
    assert served["components"] == SPEC["components"]


def test_the_served_spec_documents_the_api_error_shape(stack: ProcessStack) -> None:
    """Not FastAPI's default 422 body: schemathesis checks every refusal against this document."""
    served = stack.http.get("/openapi.json").json()
    create = served["paths"]["/api/v2/dns/requests"]["post"]["responses"]
    assert create["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "HTTPValidationError" not in served["components"]["schemas"]


def test_the_api_is_healthy_after_the_fuzzing(stack: ProcessStack) -> None:
    assert stack.http.get("/healthz").json() == {"status": "ok"}
    assert stack.http.get("/readyz").status_code == 200
