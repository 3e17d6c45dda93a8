"""Freeze windows as the workflow sees them: the window that holds a request's zone now.

Stored in Temporal's history (a local activity's result): request data only, and new fields need
defaults so running histories keep decoding.
"""

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Freeze:
    """A freeze window that covers a zone at some time (dnsorch/store/freezes.py, `freeze_at`)."""

    window_id: str
    ends_at: datetime
    reason: str
    zone: str | None = None
    """None: the window freezes every zone."""

    def describe(self) -> str:
        where = self.zone or "all zones"
        return f"{where} frozen until {self.ends_at.isoformat()}: {self.reason} (window {self.window_id})"
