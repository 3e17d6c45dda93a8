"""The seeded schedule of what clients and operators do: the same SEED and N give the same list.

Only the schedule is reproducible; what the system answers depends on timing, so the history
records what really happened. Operations refer to earlier ones by index (`of`), resolved when they
run to the request id that operation got.

Hand changes (a person's TSIG `nsupdate` on BIND, behind dnsorch's back) draw from a random stream of
their own and are numbered after everything else, so adding them left every other operation of a
seed as it was before. The time-aware operations (soak/timed.py: scheduled changes, TTL dances,
expiring records, freeze windows) do the same with a stream of their own, numbered after the hand
changes: a seed's older operations stay as they were, and `timed=False` drops the new ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from soak.hand import hand_value
from soak.stack import ACCOUNTS, ZONE
from soak.timed import TimedPlanner

# name (relative to the zone; "@" is the apex) → record types a client may ask for there. Shared
# subtrees (web / api.web / v1.api.web, shop / cdn.shop), CNAME-vs-data names (www, alias, cdn.shop
# are asked for both), underscore names that belong to the name they attach to, MX/SRV targets.
NAMES: dict[str, tuple[str, ...]] = {
    "@": ("MX", "TXT"),
    "web": ("A", "AAAA", "TXT", "CNAME"),
    "api.web": ("A", "CNAME"),
    "v1.api.web": ("A", "TXT"),
    "_acme-challenge.web": ("TXT",),
    "shop": ("A", "MX", "TXT"),
    "cdn.shop": ("CNAME", "A"),
    "img.cdn.shop": ("A",),
    "_sip._tcp.shop": ("SRV",),
    "mail": ("A", "AAAA"),
    "mx1": ("A",),
    "lab": ("A", "TXT"),
    "db.lab": ("A", "CNAME"),
    "www": ("CNAME", "A"),
    "alias": ("CNAME", "TXT"),
}
CNAME_TARGETS = ("web.example.test", "shop.example.test", "mail.example.test", "ext.example.org")
MAIL_TARGETS = ("mail.example.test", "mx1.example.test")
TRANSFERABLE = ("web", "api.web", "shop", "lab", "mail", "www", "alias", "mx1")
V2_ACTIONS = ("approve", "reject", "retry", "cancel", "fail", "resolve", "rollback")
V1_STATUSES = ("COMPLETED", "FAILED", "CANCELLED", "REJECTED", "IN_PROGRESS", "PENDING", "NEEDS_ATTENTION")
HAND_RATE = 0.05
"""Hand changes per submission."""
FREE_NAMES = ("hand1", "hand2", "hand3", "hand4")
"""Names no client ever asks for: a hand change adds records there that nobody manages."""


def fqdn(name: str) -> str:
    return ZONE if name == "@" else f"{name}.{ZONE}"


@dataclass
class Op:
    """One scheduled thing to do at `at` seconds after the soak began."""

    index: int
    at: float
    kind: str  # submit | act | status | sweep | transfer | grant | hand
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.index, "at": round(self.at, 3), "op_kind": self.kind, **self.params}

    @classmethod
    def from_dict(cls, found: dict[str, Any]) -> Op:
        """The operation `as_dict` wrote (a schedule file's entry, or a history's `op` event)."""
        fields = {
            k: v for k, v in found.items() if k not in ("op", "at", "op_kind", "seq", "t", "wall", "kind")
        }
        return cls(int(found["op"]), float(found["at"]), str(found["op_kind"]), fields)


class Schedule:
    """Builds the operations for `n` submissions at `rate` per second from `seed`."""

    def __init__(self, seed: int, n: int, rate: float, timed: bool = True) -> None:
        self.rng = random.Random(seed)  # noqa: S311  (a schedule, not a secret)
        self.hand_rng = random.Random(f"hand-{seed}")  # noqa: S311
        self.hand: list[tuple[float, dict[str, Any]]] = []
        self.timed = TimedPlanner(seed) if timed else None
        self.n = n
        self.rate = rate
        self.ops: list[Op] = []
        self.submits: list[Op] = []
        # Each name has a home account that asks for it most of the time, so most requests can
        # complete; the others collide with it (owned by another account, races for new names).
        self.home = {name: self.rng.choice(ACCOUNTS) for name in NAMES}
        self.asked: list[tuple[str, str]] = []
        """(name, type) of every create so far: updates and deletes mostly aim at them."""

    def build(self) -> list[Op]:
        t = 0.0
        for _ in range(self.n):
            t += self.rng.expovariate(self.rate)
            self._submit(t)
            if self.rng.random() < 0.18:
                self._operator_act(t)
            if self.rng.random() < 0.025:
                self._transfer(t)
            if self.hand_rng.random() < HAND_RATE:
                self._hand_change(t)
            if self.timed is not None:
                self.timed.maybe(t, self.home)
        end = t
        sweep = 4.0
        while sweep < end + 30:
            self._add(
                sweep,
                "sweep",
                status=self.rng.choice(("NEEDS_ATTENTION", "PENDING_APPROVAL")),
                pick=self.rng.random(),
                choice=self.rng.random(),
            )
            sweep += self.rng.uniform(2.0, 6.0)
        for at, params in self.hand:
            self._add(at, "hand", **params)
        if self.timed is not None:
            for group in self.timed.groups:
                added: list[Op] = []
                for step in group:
                    params = dict(step.params)
                    if step.of is not None:
                        params["of"] = added[step.of].index
                    if step.after is not None:
                        params["after"] = added[step.after].index
                    added.append(self._add(step.at, step.kind, **params))
        self.ops.sort(key=lambda op: (op.at, op.index))
        return self.ops

    def _add(self, at: float, kind: str, **params: Any) -> Op:
        op = Op(len(self.ops), at, kind, params)
        self.ops.append(op)
        return op

    # ---- submissions ---------------------------------------------------------------------------

    def _submit(self, t: float) -> None:
        rng = self.rng
        roll = rng.random()
        earlier = [op for op in self.submits if op.params["door"] in ("v2", "kafka")]
        if earlier and roll < 0.08:  # a client's retry: same key and body
            of = rng.choice(earlier[-30:])
            self.submits.append(
                self._add(t, "submit", **{**of.params, "dup_of": of.index, "same_body": True})
            )
            return
        if earlier and roll < 0.11:  # same key, another body
            of = rng.choice(earlier[-30:])
            other = self._request(of.params["door"], of.params["account"])
            params = {**other, "key": of.params["key"], "dup_of": of.index, "same_body": False}
            if of.params["door"] == "kafka":
                params["request_id"] = of.params["request_id"]
            self.submits.append(self._add(t, "submit", **params))
            return
        door = rng.choices(("v2", "v1", "kafka"), weights=(5, 2, 3))[0]
        name = rng.choice(list(NAMES))
        account = self.home[name] if rng.random() < 0.75 else rng.choice(ACCOUNTS)
        self.submits.append(self._add(t, "submit", **self._request(door, account, name)))

    def _request(self, door: str, account: str, name: str | None = None) -> dict[str, Any]:
        rng = self.rng
        operation = "create"
        if door == "v2":
            operation = rng.choices(("create", "update", "delete"), weights=(5, 3, 2))[0]
        if operation != "create" and self.asked and rng.random() < 0.85:
            name, rtype = rng.choice(self.asked[-40:])
            account = self.home[name] if rng.random() < 0.75 else account
        else:
            name = name or rng.choice(list(NAMES))
            rtype = rng.choice(NAMES[name])
        if operation == "create":
            self.asked.append((name, rtype))
        resource: dict[str, Any] = {
            "record_type": rtype,
            "domain": fqdn(name),
            "target": self._target(rtype),
            "config": {"ttl": rng.choice((300, 300, 600, 3600)), "priority": None, "extra_config": {}},
        }
        if rtype in ("MX", "SRV"):
            resource["config"]["priority"] = rng.choice((10, 20))
        if rtype == "SRV":
            resource["config"]["extra_config"] = {
                "port": rng.choice((5060, 5061)),
                "weight": rng.choice((0, 5)),
            }
        body: dict[str, Any] = {"context": {"account_id": account}, "resource": resource}
        if door == "v2":
            body["operation"] = operation
        params: dict[str, Any] = {"door": door, "account": account, "operation": operation, "body": body}
        index = len(self.ops)
        if door == "v2":
            params["key"] = f"soak-{index}"
        if door == "kafka":
            params["key"] = f"{account}/{resource['domain']}"
            # Most messages carry their own id (idempotent by design); some are identified by position.
            params["request_id"] = str(_uuid(rng)) if rng.random() < 0.8 else None
        return params

    def _target(self, rtype: str) -> str:
        rng = self.rng
        if rtype == "A":
            return f"192.0.2.{rng.randint(10, 40)}"
        if rtype == "AAAA":
            return f"2001:db8::{rng.randint(1, 30):x}"
        if rtype == "CNAME":
            return rng.choice(CNAME_TARGETS)
        if rtype in ("MX", "SRV"):
            return rng.choice(MAIL_TARGETS if rtype == "MX" else ("web.example.test", "shop.example.test"))
        return f"soak-{rng.randint(1, 50)}"

    # ---- operators -----------------------------------------------------------------------------

    def _operator_act(self, t: float) -> None:
        rng = self.rng
        of = rng.choice(self.submits[-20:])
        at = t + rng.uniform(0.1, 20.0)
        if rng.random() < 0.15:
            self._add(at, "status", of=of.index, status=rng.choice(V1_STATUSES))
        else:
            action = rng.choices(V2_ACTIONS, weights=(4, 1, 2, 2, 1, 1, 2))[0]
            self._add(at, "act", of=of.index, action=action)

    def _transfer(self, t: float) -> None:
        rng = self.rng
        name = rng.choice(TRANSFERABLE)
        kind = "grant" if rng.random() < 0.3 else "transfer"
        to = rng.choice(ACCOUNTS)
        self._add(t + rng.uniform(0, 3), kind, domain=fqdn(name), to=to)
        for other in self.home:  # clients follow the move: the new owner asks for the subtree from now on
            if other == name or other.endswith("." + name):
                self.home[other] = to

    # ---- changes made by hand ------------------------------------------------------------------

    def _hand_change(self, t: float) -> None:
        """Change or delete a record set clients asked for (the driver sends it only if dnsorch keeps
        it then), or add one at a free name; a few seconds on, so the create had time to land."""
        rng = self.hand_rng
        at = t + rng.uniform(2.0, 15.0)
        roll = rng.random()
        if self.asked and roll < 0.8:
            name, rtype = rng.choice(self.asked[-40:])
            if roll < 0.5:
                value = hand_value(rtype, rng)
                self.hand.append(
                    (
                        at,
                        {
                            "action": "change",
                            "domain": fqdn(name),
                            "rtype": rtype,
                            "value": value,
                            "ttl": 120,
                        },
                    )
                )
            else:
                self.hand.append((at, {"action": "delete", "domain": fqdn(name), "rtype": rtype}))
            return
        rtype = rng.choice(("A", "TXT"))
        name = rng.choice(FREE_NAMES)
        self.hand.append(
            (
                at,
                {
                    "action": "add",
                    "domain": fqdn(name),
                    "rtype": rtype,
                    "value": hand_value(rtype, rng),
                    "ttl": 120,
                },
            )
        )


def _uuid(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_schedule(seed: int, n: int, rate: float, timed: bool = True) -> list[Op]:
    return Schedule(seed, n, rate, timed).build()
