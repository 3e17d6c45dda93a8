"""The change a request makes to DNS, and the one that undoes it: pure values the workflow computes
(deterministic: no I/O) and the Ansible step applies."""

from __future__ import annotations

import dataclasses

from dnsorch.contracts import PTR_SOURCE, ChangePlan, DnsChange, DnsRequestSpec
from dnsorch.dns.records import rdata_values


def change_for(request: DnsRequestSpec) -> DnsChange:
    values = (
        []
        if request.operation == "delete"
        else rdata_values(request.record_type, request.target, request.priority, request.extra_config)
    )
    return DnsChange(
        request_id=request.request_id,
        operation=request.operation,
        record_type=request.record_type,
        domain=request.domain,
        zone=request.zone,
        values=values,
        ttl=request.ttl,
        account_id=request.account_id,
        source=request.source,
        ptr_of=request.target if request.source == PTR_SOURCE else "",
    )


def rollback_for(change: DnsChange, snapshot: ChangePlan) -> DnsChange:
    """The change that makes the RRset what the plan saw before `change`: a `restore` carries no
    prerequisite, so it holds whether or not `change` was applied."""
    return dataclasses.replace(
        change,
        operation="restore",
        values=list(snapshot.old_values),
        ttl=snapshot.old_ttl if snapshot.old_ttl is not None else change.ttl,
    )
