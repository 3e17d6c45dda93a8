"""DNS as pure values and plain queries (dnspython; of dnsorch only the contracts): names and records
checked and built as dnspython objects, the change and the one that undoes it, what the servers serve
compared with what dnsorch recorded, who may change a name, and asking a server (a query, a zone
transfer). Nothing here reads PostgreSQL or Temporal.
"""

from dnsorch.dns import comparison
from dnsorch.dns.change import change_for, rollback_for
from dnsorch.dns.fields import (
    MAX_EXTRA_KEY_LENGTH,
    MAX_EXTRA_KEYS,
    MAX_EXTRA_STRING,
    MAX_TTL,
    check_extra_config,
    check_ttl,
    text_problem,
)
from dnsorch.dns.names import check_name, check_owner, name_text, parse_name, zone_of
from dnsorch.dns.ownership import attach_name, closest_owner, owner_candidates, owner_name
from dnsorch.dns.plan import plan_for, pointed_at, same_rrset, target_hosts
from dnsorch.dns.protected import protected_reason
from dnsorch.dns.query import (
    authoritative_servers,
    name_exists,
    parse_servers,
    query_rrset,
    read_rrset,
    zone_cut_above,
)
from dnsorch.dns.records import (
    SUPPORTED_TYPES,
    character_strings,
    check_priority,
    check_target,
    parse_values,
    presentation,
    rdata_values,
    record_rdata,
    srv_port_weight,
    target_host,
)
from dnsorch.dns.reverse import (
    FORWARD_TYPES,
    is_reverse_zone,
    ptr_requests,
    ptrs_written,
    reverse_zone_of,
    unkept_ptr,
)
from dnsorch.dns.transfer import TransferSettings, ZoneTransferFailed, read_zone, tsig_key
from dnsorch.dns.zone_contents import delegation_above, served_rrsets, skip_reason

__all__ = [
    # names (RFC 1035, RFC 1123)
    "check_name",
    "check_owner",
    "name_text",
    "parse_name",
    "zone_of",
    # a request's TTL, free text and extra_config
    "MAX_EXTRA_KEYS",
    "MAX_EXTRA_KEY_LENGTH",
    "MAX_EXTRA_STRING",
    "MAX_TTL",
    "check_extra_config",
    "check_ttl",
    "text_problem",
    # record values as rdata
    "SUPPORTED_TYPES",
    "character_strings",
    "check_priority",
    "check_target",
    "parse_values",
    "presentation",
    "rdata_values",
    "record_rdata",
    "srv_port_weight",
    "target_host",
    # the change and its undo
    "change_for",
    "rollback_for",
    # its plan against what a server serves, and "the same record set"
    "plan_for",
    "pointed_at",
    "same_rrset",
    "target_hosts",
    # PTRs kept for A and AAAA records
    "FORWARD_TYPES",
    "is_reverse_zone",
    "ptr_requests",
    "reverse_zone_of",
    "unkept_ptr",
    "ptrs_written",
    # who may change a name
    "attach_name",
    "closest_owner",
    "owner_candidates",
    "owner_name",
    "protected_reason",
    # a served zone: what of it dnsorch manages, and drift (comparison.find_drift, …)
    "comparison",
    "delegation_above",
    "served_rrsets",
    "skip_reason",
    # asking the servers
    "TransferSettings",
    "ZoneTransferFailed",
    "authoritative_servers",
    "name_exists",
    "parse_servers",
    "query_rrset",
    "read_rrset",
    "read_zone",
    "tsig_key",
    "zone_cut_above",
]
