"""DNS rules as pure values (dnspython only): who may change a name, and which names are the zone's own.

This is the home STYLE.md gives the DNS rules; the older modules beside it move here with the
rooms issue (#25)."""

from dnsorch.dns.ownership import attach_name, owner_candidates
from dnsorch.dns.protected import protected_reason

__all__ = ["attach_name", "owner_candidates", "protected_reason"]
