"""The API's `/metrics`: what a POST, a refusal and a lookup add, with bounded labels, and a scrape
that still answers while PostgreSQL is down. The app is the real one (`create_app`); only the
service behind the routes is a stub, so no server is needed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.main import create_app
from api.metrics import ApiMetrics
from dnsorch.contracts import RequestNotFound
from dnsorch.settings import Settings
from tests.fixtures.auth import act_as

CREATE = "/api/v1/dns/create"
NOWHERE = "postgresql+psycopg2://postgres@127.0.0.1:1/dnsorch"  # nothing listens on port 1


def create_body(record_type: str = "A", source: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"account_id": "acct-42"}
    if source is not None:
        context["source"] = source
    return {
        "context": context,
        "resource": {"record_type": record_type, "domain": "www.example.test", "target": "192.0.2.10"},
    }


class StubAccept:
    """Accepts everything: what the create routes need, without Temporal or PostgreSQL."""

    async def create(self, body: Any, **_: Any) -> SimpleNamespace:
        request_id = str(uuid.uuid4())
        return SimpleNamespace(
            request_id=request_id, workflow_id=f"dns-request-{request_id}", status="PENDING", created=True
        )


class StubOperate:
    """Knows no request."""

    async def get(self, request_id: uuid.UUID) -> Any:
        raise RequestNotFound(str(request_id))


@pytest.fixture
def api() -> Iterator[TestClient]:
    settings = Settings(database_url=NOWHERE, temporal_address="127.0.0.1:1")
    with TestClient(create_app(settings)) as client:
        client.app.state.accept = StubAccept()  # type: ignore[attr-defined]
        client.app.state.operate = StubOperate()  # type: ignore[attr-defined]
        act_as(client.app)  # type: ignore[arg-type]
        yield client


def sample(client: TestClient, name: str, **labels: str) -> float | None:
    """The value of one sample on /metrics, None if absent."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def test_a_create_post_adds_one_to_the_accept_latency_histogram_and_the_accepted_counter(
    api: TestClient,
) -> None:
    latency = {"route": CREATE, "status": "200"}
    assert sample(api, "dnsorch_accept_latency_seconds_count", **latency) is None

    assert api.post(CREATE, json=create_body("A", source="billing")).status_code == 200
    assert sample(api, "dnsorch_accept_latency_seconds_count", **latency) == 1
    assert sample(api, "dnsorch_accept_latency_seconds_bucket", le="+Inf", **latency) == 1
    assert sample(api, "dnsorch_requests_accepted_total", source="api", record_type="A") == 1
    assert sample(api, "dnsorch_requests_accepted_total", source="billing") is None, "the door is the source"

    assert api.post(CREATE, json=create_body("txt")).status_code == 200
    assert sample(api, "dnsorch_accept_latency_seconds_count", **latency) == 2
    assert sample(api, "dnsorch_requests_accepted_total", source="api", record_type="TXT") == 1
    assert sample(api, "dnsorch_http_requests_total", method="POST", route=CREATE, status="200") == 2


def test_a_refused_create_is_timed_and_counted_by_status_but_not_as_accepted(api: TestClient) -> None:
    body = create_body()
    del body["resource"]["target"]
    assert api.post(CREATE, json=body).status_code == 422

    assert sample(api, "dnsorch_accept_latency_seconds_count", route=CREATE, status="422") == 1
    assert sample(api, "dnsorch_http_requests_total", method="POST", route=CREATE, status="422") == 1
    assert sample(api, "dnsorch_requests_accepted_total") is None


def test_requests_are_labelled_by_route_template_never_by_raw_path(api: TestClient) -> None:
    request_id = str(uuid.uuid4())
    assert api.get(f"/api/v1/dns/{request_id}").status_code == 404
    assert api.get(f"/no/such/{request_id}").status_code == 404

    route = "/api/v1/dns/{request_id}"
    assert sample(api, "dnsorch_http_requests_total", method="GET", route=route, status="404") == 1
    assert sample(api, "dnsorch_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert request_id not in api.get("/metrics").text
    # Lookups are not accepts: no latency observed for them.
    assert sample(api, "dnsorch_accept_latency_seconds_count", route=route) is None


def test_accepted_labels_stay_bounded_whatever_clients_send() -> None:
    metrics = ApiMetrics()
    for i in range(60):
        body = f'{{"context": {{"source": "team{i}"}}, "resource": {{"record_type": "A"}}}}'.encode()
        metrics.observe("POST", CREATE, 200, 0.01, body)
    metrics.observe("POST", CREATE, 200, 0.01, b'{"resource": {"record_type": "NAPTR"}}')
    metrics.observe("POST", CREATE, 200, 0.01, b"not json")

    sources = {s.labels["source"] for s in _samples(metrics, "dnsorch_requests_accepted_total")}
    assert sources == {"api"}, "a body's context.source is no label: the API's requests are all api"
    types = {s.labels["record_type"] for s in _samples(metrics, "dnsorch_requests_accepted_total")}
    assert types == {"A", "other", "unknown"}


def test_metrics_answer_quickly_and_without_request_figures_while_postgresql_is_down() -> None:
    settings = Settings(database_url=NOWHERE, temporal_address="127.0.0.1:1")
    with TestClient(create_app(settings)) as client:  # the real service, its engine pointing nowhere
        started = time.monotonic()
        response = client.get("/metrics")
        assert response.status_code == 200
        assert time.monotonic() - started < 5
        names = {f.name for f in text_string_to_metric_families(response.text)}
        assert "dnsorch_http_requests" in names
        assert "process_cpu_seconds" in names
        assert not names & {"dnsorch_requests", "dnsorch_dead_letters", "dnsorch_events_unpublished"}


def _samples(metrics: ApiMetrics, name: str) -> list[Any]:
    return [s for family in metrics.registry.collect() for s in family.samples if s.name == name]
