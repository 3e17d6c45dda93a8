"""The time-aware operations of a soak schedule (issue 26), each a short story a few seconds long.

- a scheduled change: a v2 create or update with `not_before` a few seconds ahead; some moved later
  (`reschedule`), some cancelled before their time;
- a TTL dance: a create with a TTL of a few seconds at a name of its own, then a v2 update with
  `ttl_dance: true` (the soak stack's `TTL_DANCE_SHORT_TTL` is 1 s, so the wait is seconds); some
  cancelled mid-dance;
- an expiring record: a v2 create or update with `expires_at` a few seconds ahead; some extended, some
  replaced by a later update before their time (the expiry must then delete nothing);
- a freeze window on the zone for a few seconds; some ended early.

Times are relative (`not_before_in`, `expires_in`, …): the driver turns them into UTC times when it
sends the call. Drawn from a random stream of its own, so a seed's other operations stay as they were.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from soak.stack import ACCOUNTS, ZONE

TIMED_RATE = 0.08
"""Time-aware stories per submission."""
SCHEDULED_NAMES = ("web", "shop", "mail", "lab", "mx1", "v1.api.web")
"""Names of the main name space with an A record: scheduled and expiring changes mix with the rest."""
KINDS = ("scheduled", "dance", "expiring", "freeze")
WEIGHTS = (3, 3, 3, 1)


@dataclass
class Step:
    """One operation of a story; `of` names an earlier step of the same story (its request), and
    `after` one whose request must have ended before this one is sent (the driver waits for it)."""

    at: float
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    of: int | None = None
    after: int | None = None


class TimedPlanner:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"timed-{seed}")  # noqa: S311  (a schedule, not a secret)
        self.groups: list[list[Step]] = []

    def maybe(self, t: float, home: dict[str, str]) -> None:
        if self.rng.random() >= TIMED_RATE:
            return
        kind = self.rng.choices(KINDS, weights=WEIGHTS)[0]
        number = len(self.groups)
        group = {
            "scheduled": lambda: self._scheduled(t, home, number),
            "dance": lambda: self._dance(t, number),
            "expiring": lambda: self._expiring(t, home, number),
            "freeze": lambda: self._freeze(t),
        }[kind]()
        for step in group:
            step.params["timed"] = kind
        self.groups.append(group)

    def _submit(
        self, operation: str, account: str, domain: str, target: str, ttl: int, **extra: Any
    ) -> dict[str, Any]:
        resource = {
            "record_type": "A",
            "domain": domain,
            "target": target,
            "config": {"ttl": ttl, "priority": None, "extra_config": {}},
        }
        body = {"operation": operation, "context": {"account_id": account}, "resource": resource}
        key = f"soak-timed-{len(self.groups)}-{operation}-{self.rng.getrandbits(32):08x}"
        return {"door": "v2", "account": account, "operation": operation, "body": body, "key": key, **extra}

    def _address(self, account: str) -> str:
        """An address from the account's own range: its PTR name is the account's to keep."""
        first = 41 + 7 * ACCOUNTS.index(account)
        return f"192.0.2.{self.rng.randint(first, first + 6)}"

    def _scheduled(self, t: float, home: dict[str, str], number: int) -> list[Step]:
        """Half at a shared name (which may not hold an A record then, or belong to another account),
        half an update of a record made at a name of its own just before (the update waits for it)."""
        rng = self.rng
        due = rng.uniform(2.0, 6.0)
        steps: list[Step] = []
        if rng.random() < 0.5:
            name = rng.choice(SCHEDULED_NAMES)
            operation = "create" if rng.random() < 0.2 else "update"  # the names mostly exist already
            account, domain = home[name], f"{name}.{ZONE}"
        else:
            operation, account, domain = "update", rng.choice(ACCOUNTS), f"scheduled{number}.{ZONE}"
            steps.append(
                Step(t, "submit", self._submit("create", account, domain, self._address(account), 300))
            )
        params = self._submit(operation, account, domain, self._address(account), 300, not_before_in=due)
        first = len(steps)
        steps.append(Step(t + 0.05, "submit", params, after=0 if first else None))
        roll = rng.random()
        # A move or a cancel comes this long after the request was accepted: before its time.
        if roll < 0.25:
            move = {"later": rng.uniform(1.0, 4.0), "after_of": rng.uniform(0.3, 1.0)}
            steps.append(Step(t + 0.1, "reschedule", move, of=first))
        elif roll < 0.4:
            cancel = {"action": "cancel", "after_of": rng.uniform(0.3, 1.0)}
            steps.append(Step(t + 0.1, "act", cancel, of=first))
        if roll >= 0.4 and rng.random() < 0.6:  # judged again when due: approve it then if held
            approve = {"action": "approve", "after_of": due + rng.uniform(1.0, 2.0)}
            steps.append(Step(t + 0.15, "act", approve, of=first))
        return steps

    def _dance(self, t: float, number: int) -> list[Step]:
        rng = self.rng
        account = rng.choice(ACCOUNTS)
        domain = f"dance{number}.{ZONE}"
        old_ttl = rng.randint(3, 8)
        create = self._submit("create", account, domain, self._address(account), old_ttl)
        at = t + rng.uniform(3.0, 5.0)
        update = self._submit(
            "update", account, domain, self._address(account), rng.randint(old_ttl, 10), ttl_dance=True
        )
        # The update waits for the create to end (a client moves a record that exists); a cancel
        # comes this long after the update was accepted: mid-dance, for a wait of 3-8 s.
        steps = [Step(t, "submit", create), Step(at, "submit", update, after=0)]
        if rng.random() < 0.7:  # the small zone's in-flight share often holds an update for approval
            approve = {"action": "approve", "after_of": rng.uniform(0.5, 1.0)}
            steps.append(Step(at + 0.05, "act", approve, of=1))
        if rng.random() < 0.3:
            cancel = {"action": "cancel", "after_of": rng.uniform(1.0, 4.0)}
            steps.append(Step(at + 0.1, "act", cancel, of=1))
        return steps

    def _expiring(self, t: float, home: dict[str, str], number: int) -> list[Step]:
        rng = self.rng
        if rng.random() < 0.5:
            name, operation = rng.choice(SCHEDULED_NAMES), "update"
            account, domain = home[name], f"{name}.{ZONE}"
        else:
            operation, account, domain = "create", rng.choice(ACCOUNTS), f"expiring{number}.{ZONE}"
        params = self._submit(
            operation, account, domain, self._address(account), 300, expires_in=rng.uniform(3.0, 8.0)
        )
        steps = [Step(t, "submit", params)]
        roll = rng.random()
        if roll < 0.3:
            extend = {"expires_in": rng.uniform(2.0, 5.0), "after_of": rng.uniform(1.0, 2.5)}
            steps.append(Step(t + 0.1, "extend", extend, of=0))
        elif roll < 0.55:  # a later change of the record: the expiry must then delete nothing
            later = self._submit("update", account, domain, self._address(account), 300)
            steps.append(Step(t + rng.uniform(1.0, 4.0), "submit", later))
        return steps

    def _freeze(self, t: float) -> list[Step]:
        rng = self.rng
        params: dict[str, Any] = {"zone": ZONE, "duration": rng.uniform(2.0, 5.0)}
        if rng.random() < 0.3:
            params["end_early"] = rng.uniform(0.5, 1.5)
        return [Step(t, "freeze", params)]


def utc_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def timed_body(params: dict[str, Any]) -> dict[str, Any]:
    """The v2 body with the time-aware fields its op asks for, as UTC times from now."""
    body = dict(params["body"])
    if "not_before_in" in params:
        body["not_before"] = utc_in(params["not_before_in"])
    if "expires_in" in params:
        body["expires_at"] = utc_in(params["expires_in"] + params.get("not_before_in", 0.0))
    if params.get("ttl_dance"):
        body["ttl_dance"] = True
    return body
