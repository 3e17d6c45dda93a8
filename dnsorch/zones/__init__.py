"""Whole zones: drift (what the servers serve against what dnsorch recorded, healed or raised as
requests) and adoption (what a zone already serves becomes dnsorch's managed records). Modules read
as namespaces: `adoption.plan_adoption(...)`, `drift.restore_spec(...)`.
"""

from dnsorch.zones import adoption, drift
from dnsorch.zones.adoption import (
    AdoptionPlan,
    AdoptionRefused,
    AdoptionResult,
    PlannedRRset,
    adopt_zone,
    plan_adoption,
)

__all__ = [
    "adoption",
    "drift",
    # adoption
    "AdoptionPlan",
    "AdoptionRefused",
    "AdoptionResult",
    "PlannedRRset",
    "adopt_zone",
    "plan_adoption",
]
