"""Approval by risk: which requests wait for a person, and why (the verdict is kept on the request).

Most changes are routine and should not wait. The ones that can take a service down or hide a
mistake wait for an operator's approval, with a deadline: deletes; changes at a zone's apex, to NS
or MX; a TTL lowered below a floor (caches then re-ask often, and a wrong value spreads fast); and
changes that, together with those already in flight, would touch more than a share of a zone
(octoDNS refuses more than 30 % of a zone's records updated or deleted in one run, unless forced).
Zones, record types and accounts an operator lists always wait.

Per zone and account: APPROVAL_ZONE_RISKS replaces APPROVAL_RISKS below a name (the most specific
name wins); APPROVAL_ZONE_APPROVERS and APPROVAL_ACCOUNT_APPROVERS ask more approvers of the requests
held there. Numbers take the highest that applies, so no rule lowers what another asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dns.exception
import dns.name

from dnsorch.contracts import DnsRequestSpec, ZoneFacts
from dnsorch.settings import Settings


@dataclass
class Verdict:
    """Whether the request waits for approval, and every reason it does."""

    required: bool = False
    reasons: list[str] = field(default_factory=list)
    approvers: int = 1
    """How many distinct approvers (API keys) it needs before it goes ahead."""

    def describe(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "routine change: no approval needed"


def verdict(spec: DnsRequestSpec, settings: Settings, facts: ZoneFacts) -> Verdict:
    """The approval policy's verdict on `spec`; a dry run never waits (it changes nothing)."""
    if spec.dry_run:
        return Verdict()
    risks = _risks(spec, settings, facts)
    reasons = _listed(spec, settings) + [reason for _risk, reason in risks]
    if not reasons:
        return Verdict()
    numbers = [settings.approval_risk_approvers.get(risk, 1) for risk, _reason in risks]
    numbers += _zone_and_account_numbers(spec, settings)
    return Verdict(required=True, reasons=reasons, approvers=max([settings.approval_min_approvers, *numbers]))


def enabled_risks(spec: DnsRequestSpec, settings: Settings) -> list[str]:
    """The risks judged for `spec`: APPROVAL_ZONE_RISKS of the most specific name listed at or
    above its domain (a lab zone may judge fewer, a production one more), else APPROVAL_RISKS."""
    listed = _enclosing(spec.domain, settings.approval_zone_risks)
    if not listed:
        return list(settings.approval_risks)
    most_specific = max(listed, key=lambda name: len(name.labels))
    return settings.approval_zone_risks[_key(most_specific)]


def _zone_and_account_numbers(spec: DnsRequestSpec, settings: Settings) -> list[int]:
    """Approvers asked for the request's zone (any name listed at or above its domain) and its
    account. Every number that applies counts, and the highest wins: no rule lowers another."""
    numbers = [
        settings.approval_zone_approvers[_key(name)]
        for name in _enclosing(spec.domain, settings.approval_zone_approvers)
    ]
    if spec.account_id in settings.approval_account_approvers:
        numbers.append(settings.approval_account_approvers[spec.account_id])
    return numbers


def _enclosing(domain: str, by_name: Mapping[str, object]) -> list[dns.name.Name]:
    """The names among `by_name`'s keys at or above `domain`."""
    try:
        name = dns.name.from_text(domain)
    except dns.exception.DNSException:
        return []
    return [listed for listed in _names(list(by_name)) if name.is_subdomain(listed)]


def _key(name: dns.name.Name) -> str:
    """How settings spell a listed name (lower case, no final dot)."""
    return name.to_text(omit_final_dot=True).lower()


def _listed(spec: DnsRequestSpec, settings: Settings) -> list[str]:
    reasons = []
    zone = dns.name.from_text(spec.zone)
    if any(zone == listed for listed in _names(settings.approval_zones)):
        reasons.append(f"zone {spec.zone} is listed in APPROVAL_ZONES")
    if spec.record_type in {t.upper() for t in settings.approval_record_types}:
        reasons.append(f"record type {spec.record_type} is listed in APPROVAL_RECORD_TYPES")
    if spec.account_id in settings.approval_accounts:
        reasons.append(f"account {spec.account_id} is listed in APPROVAL_ACCOUNTS")
    return reasons


def _risks(spec: DnsRequestSpec, settings: Settings, facts: ZoneFacts) -> list[tuple[str, str]]:
    """Each risk found, as (its name in APPROVAL_RISKS, the reason a person reads)."""
    enabled = set(enabled_risks(spec, settings))
    found = []
    if spec.emergency:  # always: it passes freeze windows, so a person lets it (APPROVAL_RISKS aside)
        found.append(("emergency", "an emergency change (it passes freeze windows)"))
    if "delete" in enabled and spec.operation == "delete":
        found.append(("delete", "a delete (risky: what depended on the record stops resolving)"))
    if "apex" in enabled and spec.domain == spec.zone:
        found.append(("apex", f"a change at the apex of {spec.zone} (risky)"))
    if "ns" in enabled and spec.record_type == "NS":
        found.append(("ns", "an NS change (risky: delegation)"))
    if "mx" in enabled and spec.record_type == "MX":
        found.append(("mx", "an MX change (risky: mail delivery)"))
    floor = settings.approval_ttl_floor
    if "ttl_drop" in enabled and spec.operation == "update" and facts.current_ttl is not None:
        if spec.ttl < floor and spec.ttl < facts.current_ttl:
            found.append(
                ("ttl_drop", f"TTL drops from {facts.current_ttl} to {spec.ttl}, below the floor of {floor}")
            )
    if "zone_share" in enabled and spec.operation != "create":
        found += [("zone_share", reason) for reason in _zone_share(spec, settings, facts)]
    return found


def _zone_share(spec: DnsRequestSpec, settings: Settings, facts: ZoneFacts) -> list[str]:
    """Counted like octoDNS's safety threshold: updates and deletes against existing record sets,
    in zones large enough for a share to mean something."""
    total = facts.zone_record_sets
    if total < settings.approval_zone_min_record_sets:
        return []
    touched = facts.zone_changes_in_flight + 1
    share = settings.approval_zone_share
    if touched / total <= share:
        return []
    return [
        f"{touched} of the {total} record sets in {spec.zone} would change at once"
        f" (more than {share:.0%} of the zone)"
    ]


def _names(texts: list[str]) -> list[dns.name.Name]:
    """Configured zones, compared as names (`Example.Test.` is `example.test`); one that does not
    parse cannot match a request's zone anyway."""
    names = []
    for text in texts:
        try:
            names.append(dns.name.from_text(text))
        except dns.exception.DNSException:
            continue
    return names
