"""The approval policy's settings (dnsorch/requests/approval.py reads them): which requests wait for
a person, how many distinct approvers they need, and for how long; per risk, zone and account.
Part of Settings (dnsorch/settings/__init__.py); names are the upper-case field names."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode

APPROVAL_RISKS = ("delete", "apex", "ns", "mx", "ttl_drop", "zone_share", "dangling_target")
DEFAULT_APPROVAL_RISKS = tuple(risk for risk in APPROVAL_RISKS if risk != "dangling_target")
"""All but `dangling_target`, which a deployment opts into (a CNAME made before its target waits)."""
"""The kinds of risky change the approval policy knows (dnsorch/requests/approval.py)."""


def _pairs(value: object, example: str) -> dict[str, str] | None:
    """`key=value` pairs from the environment (spaces or commas between them), or from a dict;
    None for anything else (pydantic then says what is wrong)."""
    if isinstance(value, dict):
        return {str(key): "+".join(v) if isinstance(v, list) else str(v) for key, v in value.items()}
    if not isinstance(value, str):
        return None
    pairs = [part for part in value.replace(",", " ").split() if part]
    if any(pair.count("=") != 1 or pair.startswith("=") for pair in pairs):
        raise ValueError(f"write each as name=value, e.g. {example}; got {value!r}")
    return {key.strip(): item.strip() for key, item in (pair.split("=") for pair in pairs)}


def _zone_key(name: str) -> str:
    return name.strip().rstrip(".").lower()


class ApprovalSettings(BaseModel):
    approval_zones: Annotated[list[str], NoDecode] = Field(default_factory=list)
    approval_record_types: Annotated[list[str], NoDecode] = Field(default_factory=list)
    approval_accounts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """A request in one of these zones, of one of these types or from one of these accounts waits
    in PENDING_APPROVAL for an operator's approve/reject before anything touches DNS."""
    approval_risks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_APPROVAL_RISKS)
    )
    """Risky changes that wait for approval (dnsorch/requests/approval.py); empty: none waits for its risk."""
    approval_ttl_floor: int = 300
    """An update that lowers a record's TTL below this many seconds is risky."""
    approval_zone_share: float = 0.3
    """Updates and deletes touching more than this share of a zone's record sets at once are risky ..."""
    approval_zone_min_record_sets: int = 10
    """... in zones with at least this many record sets (a share of 3 means little)."""
    approval_timeout_seconds: int = 3 * 24 * 3600
    """How long a request waits for approval before it ends REJECTED ("no approval in time")."""
    approval_four_eyes: bool = False
    """Four eyes: an approver may not belong to the account that submitted the request, nor hold
    the key that submitted it (API v2's approve answers 409 `four_eyes`)."""
    approval_min_approvers: int = Field(default=1, ge=1)
    """Distinct approvers (API keys) every request held for approval needs before it goes ahead."""
    approval_risk_approvers: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """More approvers for some risks, e.g. `delete=2 zone_share=3`; a request needs the highest
    number among its risks and APPROVAL_MIN_APPROVERS (dnsorch/requests/approval.py)."""
    approval_zone_approvers: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """More approvers for held requests at or below a name, e.g. `prod.example.test=2`; counted
    like APPROVAL_RISK_APPROVERS (the highest number that applies wins)."""
    approval_account_approvers: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """More approvers for held requests of an account, e.g. `team-payments=2`; the highest wins."""
    approval_zone_risks: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    """APPROVAL_RISKS for requests at or below a name, e.g. `lab.example.test=none
    prod.example.test=delete+apex+ns`: the most specific name listed replaces APPROVAL_RISKS."""

    @field_validator(
        "approval_zones", "approval_record_types", "approval_accounts", "approval_risks", mode="before"
    )
    @classmethod
    def _split_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("approval_risk_approvers", mode="before")
    @classmethod
    def _risk_numbers(cls, value: object) -> object:
        """`delete=2 zone_share=3` (or commas): a number of approvers per known risk, each at least 1."""
        if isinstance(value, str):
            pairs = [part for part in value.replace(",", " ").split() if part]
            if any(pair.count("=") != 1 for pair in pairs):
                raise ValueError(f"write each as risk=N, e.g. delete=2; got {value!r}")
            value = {risk.strip(): number.strip() for risk, number in (p.split("=") for p in pairs)}
        if isinstance(value, dict):
            unknown = [risk for risk in value if risk not in APPROVAL_RISKS]
            if unknown:
                raise ValueError(f"unknown approval risk(s) {unknown}; known: {', '.join(APPROVAL_RISKS)}")
            if any(not str(n).isdigit() or int(n) < 1 for n in value.values()):
                raise ValueError(f"each risk needs at least 1 approver; got {value}")
            return {risk: int(n) for risk, n in value.items()}
        return value

    @field_validator("approval_zone_approvers", "approval_account_approvers", mode="before")
    @classmethod
    def _approver_numbers(cls, value: object, info: ValidationInfo) -> object:
        """`name=N` pairs (spaces or commas between them), each N at least 1; zones as names."""
        zones = info.field_name == "approval_zone_approvers"
        pairs = _pairs(value, "prod.example.test=2" if zones else "team-a=2")
        if pairs is None:
            return value
        if any(not n.isdigit() or int(n) < 1 for n in pairs.values()):
            raise ValueError(f"each needs at least 1 approver; got {value!r}")
        return {(_zone_key(key) if zones else key): int(n) for key, n in pairs.items()}

    @field_validator("approval_zone_risks", mode="before")
    @classmethod
    def _zone_risk_lists(cls, value: object) -> object:
        """`name=risk+risk` pairs; `name=none` (or `name=`) turns every risk off below that name."""
        pairs = _pairs(value, "prod.example.test=delete+apex")
        if pairs is None:
            return value
        lists = {
            _zone_key(zone): [r for r in text.split("+") if r and r != "none"] for zone, text in pairs.items()
        }
        unknown = sorted({r for risks in lists.values() for r in risks if r not in APPROVAL_RISKS})
        if unknown:
            raise ValueError(f"unknown approval risk(s) {unknown}; known: {', '.join(APPROVAL_RISKS)}")
        return lists

    @field_validator("approval_risks")
    @classmethod
    def _known_risks(cls, risks: list[str]) -> list[str]:
        unknown = [risk for risk in risks if risk not in APPROVAL_RISKS]
        if unknown:
            raise ValueError(f"unknown approval risk(s) {unknown}; known: {', '.join(APPROVAL_RISKS)}")
        return risks
