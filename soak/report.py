"""A checker's findings: each violation with the part of the history that shows it, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soak.history import excerpt


@dataclass
class Violation:
    check: str
    message: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        check: str,
        message: str,
        events: list[dict[str, Any]] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.violations.append(Violation(check, message, [*(extra or []), *excerpt(events or [])]))
