"""Custom search attributes operators filter on in the Temporal Web UI (all Keyword)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from dnsorch.contracts import DnsRequestSpec, RequestStatus

DOMAIN = SearchAttributeKey.for_keyword("DnsDomain")
ZONE = SearchAttributeKey.for_keyword("DnsZone")
RECORD_TYPE = SearchAttributeKey.for_keyword("DnsRecordType")
OPERATION = SearchAttributeKey.for_keyword("DnsOperation")
STATUS = SearchAttributeKey.for_keyword("DnsStatus")
ACCOUNT = SearchAttributeKey.for_keyword("DnsAccount")
SOURCE = SearchAttributeKey.for_keyword("DnsSource")

ALL_KEYS = (DOMAIN, ZONE, RECORD_TYPE, OPERATION, STATUS, ACCOUNT, SOURCE)
SEARCH_ATTRIBUTE_NAMES = tuple(key.name for key in ALL_KEYS)


def initial_attributes(
    *,
    domain: str,
    zone: str,
    record_type: str,
    operation: str,
    status: str,
    account: str,
    source: str,
) -> TypedSearchAttributes:
    """The attributes a request's workflow starts with."""
    values = (domain, zone, record_type, operation, status, account, source)
    return TypedSearchAttributes([SearchAttributePair(k, v) for k, v in zip(ALL_KEYS, values, strict=True)])


def request_attributes(spec: DnsRequestSpec) -> TypedSearchAttributes:
    """The attributes of `spec`'s workflow when it starts (accepted, or a PTR child)."""
    return initial_attributes(
        domain=spec.domain,
        zone=spec.zone,
        record_type=spec.record_type,
        operation=spec.operation,
        status=RequestStatus.PENDING.value,
        account=spec.account_id,
        source=spec.source,
    )
