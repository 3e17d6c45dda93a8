"""`ttl_dance` (API v2, issue 26) is for updates only, is refused on a create or a delete naming its
field, and leaves the fingerprint of a body without it as it was (a retry sent before the TTL dance
existed is the same request)."""

from __future__ import annotations

import hashlib
import json

import pytest

from api.v2.schemas import RequestCreateV2
from dnsorch.contracts import InvalidRequest
from dnsorch.requests.validation import check_ttl_dance, request_hash
from tests.fixtures.specs import fresh_name


@pytest.mark.parametrize("operation", ["create", "delete"])
def test_only_an_update_dances(operation: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_ttl_dance(True, operation)
    assert refused.value.field == "ttl_dance" and operation in refused.value.reason
    assert check_ttl_dance(False, operation) is False
    assert check_ttl_dance(True, "update") is True


def test_a_body_without_ttl_dance_keeps_its_fingerprint() -> None:
    payload = {
        "operation": "update",
        "context": {"account_id": "acct-42"},
        "resource": {"record_type": "A", "domain": fresh_name(), "target": "192.0.2.1"},
    }
    without = RequestCreateV2.model_validate(payload)
    explicit = RequestCreateV2.model_validate({**payload, "ttl_dance": False})
    dancing = RequestCreateV2.model_validate({**payload, "ttl_dance": True})
    assert request_hash(without, "update") == request_hash(explicit, "update")
    assert request_hash(dancing, "update") != request_hash(without, "update")
    before = without.model_dump(
        mode="json", exclude={"ttl_dance", "dry_run", "not_before", "emergency", "expires_at"}
    )
    canonical = json.dumps({"operation": "update", **before}, sort_keys=True)  # as hashed before the field
    assert request_hash(without, "update") == hashlib.sha256(canonical.encode()).hexdigest()
