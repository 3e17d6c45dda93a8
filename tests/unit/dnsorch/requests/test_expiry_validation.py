"""`expires_at` is judged by the rule `not_before` follows (a UTC offset, ahead, at most 366 days
ahead), names its own field when refused, is refused on a delete, and leaves the fingerprint of a
body without it as it was (a retry sent before expiring records existed is the same request)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dnsorch.contracts import InvalidRequest
from dnsorch.requests.validation import check_expires_at, check_not_before, request_hash
from tests.fixtures.specs import fresh_name

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (datetime(2027, 1, 1, 10, 0), "UTC offset"),
        (NOW - timedelta(seconds=1), "has passed"),
        (NOW, "has passed"),
        (NOW + timedelta(days=367), "days ahead"),
    ],
)
def test_a_time_not_before_would_refuse_is_refused_naming_expires_at(value: datetime, reason: str) -> None:
    with pytest.raises(InvalidRequest) as expired:
        check_expires_at(value, NOW)
    with pytest.raises(InvalidRequest) as scheduled:
        check_not_before(value, NOW)
    assert expired.value.field == "expires_at" and reason in expired.value.reason
    assert scheduled.value.reason == expired.value.reason, "the two fields follow one rule"


def test_a_time_ahead_is_kept_in_utc() -> None:
    paris = datetime(2027, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert check_expires_at(paris, NOW) == datetime(2027, 1, 1, 10, 0, tzinfo=UTC)
    assert check_expires_at(None, NOW) is None


def test_a_delete_cannot_expire() -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_expires_at(NOW + timedelta(days=1), NOW, "delete")
    assert refused.value.field == "expires_at" and "delete" in refused.value.reason
    assert check_expires_at(None, NOW, "delete") is None


def test_a_body_without_expires_at_keeps_its_fingerprint() -> None:
    from api.v2.schemas import RequestCreateV2

    payload = {
        "context": {"account_id": "acct-42"},
        "resource": {"record_type": "A", "domain": fresh_name(), "target": "192.0.2.1"},
    }
    without = RequestCreateV2.model_validate(payload)
    explicit_none = RequestCreateV2.model_validate({**payload, "expires_at": None})
    expiring = RequestCreateV2.model_validate({**payload, "expires_at": "2027-01-01T00:00:00Z"})
    assert request_hash(without, "create") == request_hash(explicit_none, "create")
    before = without.model_dump(
        mode="json", exclude={"expires_at", "dry_run", "not_before", "emergency", "ttl_dance"}
    )
    canonical = json.dumps({"operation": "create", **before}, sort_keys=True)  # as hashed before the field
    assert request_hash(without, "create") == hashlib.sha256(canonical.encode()).hexdigest()
    assert request_hash(expiring, "create") != request_hash(without, "create")
