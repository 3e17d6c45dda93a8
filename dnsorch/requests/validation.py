"""Turn a request body into a validated DnsRequestSpec, and decide whether it needs approval."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from dnsorch.contracts import DnsRequestSpec, InvalidRequest
from dnsorch.dns import (
    SUPPORTED_TYPES,
    check_extra_config,
    check_owner,
    check_priority,
    check_target,
    check_ttl,
    name_text,
    record_rdata,
    zone_of,
)
from dnsorch.requests.schemas import CreateDnsRequest

OPERATIONS = ("create", "update", "delete")


def build_spec(
    body: CreateDnsRequest, zones: list[str], request_id: str, source: str, operation: str = "create"
) -> DnsRequestSpec:
    """Check the request against DNS rules and the managed zones; raise InvalidRequest.

    A delete names the record set by name and type only: its target is not needed.
    """
    if operation not in OPERATIONS:
        raise InvalidRequest("operation", f"must be one of {', '.join(OPERATIONS)}")
    resource = body.resource
    record_type = resource.record_type.strip().upper()
    if record_type not in SUPPORTED_TYPES:
        raise InvalidRequest("resource.record_type", f"must be one of {', '.join(SUPPORTED_TYPES)}")
    owner = check_owner(record_type, resource.domain)
    zone = zone_of(owner, zones)
    if record_type == "CNAME" and owner == zone:  # the apex holds SOA and NS: RFC 1034 §3.6.2
        raise InvalidRequest("resource.domain", "a CNAME cannot sit at the zone apex")
    if operation == "delete":  # the record set is named by name and type; a target is not used
        target, priority = "", None
    else:
        target = check_target(record_type, resource.target)
        priority = check_priority(record_type, resource.config.priority)
        # What the workflow will ask DNS to serve, built now so that a value dnspython refuses is a 422.
        record_rdata(record_type, target, priority, resource.config.extra_config)
    return DnsRequestSpec(
        request_id=request_id,
        account_id=body.context.account_id,
        source=source,
        record_type=record_type,
        domain=name_text(owner),
        zone=name_text(zone),
        target=target,
        ttl=check_ttl(resource.config.ttl),
        priority=priority,
        comment=resource.comment,
        extra_config=check_extra_config(resource.config.extra_config),
        operation=operation,
        accepted_at=datetime.now(UTC),
    )


MAX_SCHEDULE_AHEAD = timedelta(days=366)


def check_not_before(value: datetime | None, now: datetime) -> datetime | None:
    """A scheduled change's time: see `check_time_ahead`."""
    return check_time_ahead("not_before", value, now)


def check_expires_at(value: datetime | None, now: datetime, operation: str = "create") -> datetime | None:
    """An expiring record's time, by the same rule as a scheduled change's; only a create or an
    update provisions a record that can expire."""
    if value is not None and operation == "delete":
        raise InvalidRequest("expires_at", "a delete cannot expire: send it with no expires_at")
    return check_time_ahead("expires_at", value, now)


def check_ttl_dance(value: bool, operation: str) -> bool:
    """The TTL dance moves a record that is served: only an update has one."""
    if value and operation != "update":
        raise InvalidRequest("ttl_dance", f"only an update dances (this is a {operation})")
    return value


def check_time_ahead(field: str, value: datetime | None, now: datetime) -> datetime | None:
    """A time a request is to act at: with a UTC offset (a naive time means different things to
    different clients), ahead of now, at most MAX_SCHEDULE_AHEAD ahead. A time already passed is
    refused rather than acted on at once: the client meant a time that is gone."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(field, "needs a UTC offset, e.g. 2027-01-31T22:00:00Z")
    if value <= now:
        raise InvalidRequest(field, f"{value.isoformat()} has passed")
    if value - now > MAX_SCHEDULE_AHEAD:
        raise InvalidRequest(field, f"is more than {MAX_SCHEDULE_AHEAD.days} days ahead")
    return value.astimezone(UTC)


def request_hash(body: CreateDnsRequest, operation: str) -> str:
    """Fingerprint of what was asked, to tell a retry from another request under the same key."""
    asked = body.model_dump(mode="json")
    if asked.get("dry_run") is False:  # as before dry runs existed: a retry keeps its fingerprint
        del asked["dry_run"]
    if "not_before" in asked and asked["not_before"] is None:  # likewise before scheduled changes
        del asked["not_before"]
    if "expires_at" in asked and asked["expires_at"] is None:  # and before expiring records
        del asked["expires_at"]
    if asked.get("emergency") is False:  # and before freeze windows' emergency flag
        del asked["emergency"]
    if asked.get("ttl_dance") is False:  # and before the TTL dance
        del asked["ttl_dance"]
    canonical = json.dumps({"operation": operation, **asked}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
