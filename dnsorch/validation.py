"""Turn a request body into a validated DnsRequestSpec, and decide whether it needs approval."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from dnsorch import records
from dnsorch.contracts import DnsRequestSpec
from dnsorch.errors import InvalidRequest
from dnsorch.schemas import CreateDnsRequest
from dnsorch.settings import Settings

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
    if record_type not in records.SUPPORTED_TYPES:
        raise InvalidRequest("resource.record_type", f"must be one of {', '.join(records.SUPPORTED_TYPES)}")
    domain = records.check_owner(record_type, resource.domain)
    zone = records.zone_of(domain, zones)
    if record_type == "CNAME" and domain == zone:
        raise InvalidRequest("resource.domain", "a CNAME cannot sit at the zone apex")
    if operation == "delete":  # the record set is named by name and type; a target is not used
        target, priority = "", None
    else:
        target = records.check_target(record_type, resource.target)
        priority = records.check_priority(record_type, resource.config.priority)
        if record_type == "SRV":
            records.srv_port_weight(resource.config.extra_config)
    return DnsRequestSpec(
        request_id=request_id,
        account_id=body.context.account_id,
        source=source,
        record_type=record_type,
        domain=domain,
        zone=zone,
        target=target,
        ttl=records.check_ttl(resource.config.ttl),
        priority=priority,
        comment=resource.comment,
        extra_config=records.check_extra_config(resource.config.extra_config),
        operation=operation,
        accepted_at=datetime.now(UTC),
    )


def needs_approval(spec: DnsRequestSpec, settings: Settings) -> bool:
    """The approval policy: any match of zone, record type or account."""
    zones = {z.strip(".").lower() for z in settings.approval_zones}
    types = {t.upper() for t in settings.approval_record_types}
    return spec.zone in zones or spec.record_type in types or spec.account_id in settings.approval_accounts


def request_hash(body: CreateDnsRequest, operation: str) -> str:
    """Fingerprint of what was asked, to tell a retry from another request under the same key."""
    asked = body.model_dump(mode="json")
    if asked.get("dry_run") is False:  # as before dry runs existed: a retry keeps its fingerprint
        del asked["dry_run"]
    canonical = json.dumps({"operation": operation, **asked}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
