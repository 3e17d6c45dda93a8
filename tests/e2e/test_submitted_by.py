"""What four-eyes approval reads (issue 26): each request records the id of the API key that
submitted it, through either API version, and never the key itself."""

from __future__ import annotations

import uuid

import pytest

from tests.fixtures.api_v2 import body, post_v2
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e


def test_a_request_records_the_id_of_the_key_that_submitted_it_and_never_the_key(stack: ProcessStack) -> None:
    assert stack.api_key is not None
    key_id = stack.api_key.split("_")[1]  # dnsorch_<id>_<secret>: the id names the key, the secret is it
    v2 = post_v2(stack, body(f"sub-{uuid.uuid4().hex[:6]}.example.test", "192.0.2.90")).json()
    v1 = stack.http.post(
        "/api/v1/dns/create",
        json={
            "context": {"account_id": "acct-ops"},
            "resource": {
                "record_type": "A",
                "domain": f"sub-{uuid.uuid4().hex[:6]}.example.test",
                "target": "192.0.2.91",
            },
        },
        timeout=30,
    ).json()
    for request_id in (v2["request_id"], v1["request_id"]):
        detail = stack.http.get(f"/api/v2/dns/requests/{request_id}", timeout=10)
        assert detail.json()["config"]["submitted_by"] == key_id
        secret = stack.api_key.split("_", 2)[2]  # a secret may itself hold "_"
        assert stack.api_key not in detail.text and secret not in detail.text
