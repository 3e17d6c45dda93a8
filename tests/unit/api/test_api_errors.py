"""The API's one error shape: for bodies that are not JSON, and in the OpenAPI it serves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import health
from api.errors import document_error_responses, install_error_handlers
from api.main import include_versioned_routers
from dnsorch.requests import CreateDnsRequest

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def things(body: CreateDnsRequest) -> dict[str, str]:
        return {"account": body.context.account_id}

    return TestClient(app)


def post(client: TestClient, raw: bytes, content_type: str = "application/json") -> Any:
    return client.post("/things", content=raw, headers={"content-type": content_type})


UNREADABLE = {
    "truncated": (b'{"context": {"account_id": "a"', "is not valid JSON: "),
    "garbage": (b"\x00garbage", "is not valid JSON: Expecting value at character 0"),
    "not-utf8": (b'{"context": {"account_id": "\xff\xfe"}}', "is not JSON text: invalid start byte"),
    "overlong-utf8": (b'{"context": {"account_id": "\xc0\xaf"}}', "is not JSON text: invalid start byte"),
    "latin1": ('{"context": {"account_id": "caf\u00e9"}}'.encode("latin-1"), "is not JSON text"),
    "deep-arrays": (b"[" * 10_000 + b"]" * 10_000, "is nested too deeply"),
    "deep-objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "is nested too deeply"),
    "huge-integer": (b'{"context": ' + b"9" * 5000 + b"}", "holds a number with too many digits"),
}


@pytest.mark.parametrize(("raw", "reason"), list(UNREADABLE.values()), ids=list(UNREADABLE))
def test_a_body_that_is_not_json_is_a_422_naming_the_body_with_a_reason(
    client: TestClient, raw: bytes, reason: str
) -> None:
    response = post(client, raw)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == ["body"]
    assert error["details"][0]["reason"].startswith(reason), error
    assert error["message"] == f"body: {error['details'][0]['reason']}"


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"", "application/json"), (b"null", "application/json"), (b'{"context": {}}', "text/plain")],
    ids=["empty", "json-null", "not-json-content-type"],
)
def test_a_body_that_is_not_an_object_is_a_422_naming_the_body(
    client: TestClient, raw: bytes, content_type: str
) -> None:
    response = post(client, raw, content_type)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == ["body"]


def test_a_field_error_still_names_the_field(client: TestClient) -> None:
    response = post(client, json.dumps({"context": {"account_id": ""}, "resource": {}}).encode())
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert "context.account_id" in fields and "resource.domain" in fields


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(health.router)
    include_versioned_routers(app)
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_the_openapi_documents_the_api_error_shape_for_every_error(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == ERROR_REF, (method, path, status)
    assert "HTTPValidationError" not in json.dumps(spec)
    error = spec["components"]["schemas"]["ErrorInfo"]
    assert set(error["required"]) == {"code", "message", "details"}
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"field", "reason"}


def test_the_openapi_lists_the_refusals_each_route_can_answer(spec: dict[str, Any]) -> None:
    documented = {(m.upper(), p): set(op["responses"]) for p, m, op in _operations(spec)}
    auth = {"401", "429", "503"}
    assert documented["GET", "/healthz"] == {"200"}
    assert documented["GET", "/api/v2/dns/requests"] == {"200", "422"} | auth
    assert documented["GET", "/api/v1/dns/{request_id}"] == {"200", "404", "422"} | auth
    assert documented["POST", "/api/v1/dns/create"] == {"200", "403", "413", "422"} | auth
    assert documented["POST", "/api/v2/dns/requests"] == {"202", "403", "409", "413", "422"} | auth
    assert documented["POST", "/api/v2/dns/requests/{request_id}/actions/{action}"] == (
        {"200", "403", "404", "409", "413", "422"} | auth
    )


def test_documenting_twice_changes_nothing(spec: dict[str, Any]) -> None:
    before = json.dumps(spec, sort_keys=True)
    assert json.dumps(document_error_responses(json.loads(before)), sort_keys=True) == before
