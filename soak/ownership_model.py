"""A plain model of the ownership rules of docs/api.md, replayed over what happened, to find a name changed by
an account that did not own it at that moment.

Events, in time order: a forward request's completion (it claims an unowned name; a delete may
release its owner row) and an operator's transfer or grant (from `name_transfers`). A completed
request passes when, at some moment between its acceptance and its completion, its account owned
the name or nobody did: the name's turn (where dnsorch checks the owner again) lies in that window,
and a lenient window keeps the check free of false alarms from races the rules allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from dnsorch.dns import closest_owner, owner_candidates, owner_name
from soak.stack import ZONE

if TYPE_CHECKING:
    from soak.facts import Facts, Row


@dataclass
class OwnerRow:
    account: str
    granted: bool


class Model:
    def __init__(self) -> None:
        self.owners: dict[str, OwnerRow] = {}
        self.current: set[tuple[str, str]] = set()

    def owner(self, domain: str) -> str | None:
        found = closest_owner(owner_candidates(domain, ZONE), {d: o.account for d, o in self.owners.items()})
        return None if found is None else found[1]

    def complete(self, row: Row) -> None:
        key = (row.domain, row.record_type)
        if row.operation == "delete":
            self.current.discard(key)
            found = closest_owner(
                owner_candidates(row.domain, ZONE), {d: o.account for d, o in self.owners.items()}
            )
            if found is not None:
                name = found[0]
                left = any(d == name or d.endswith("." + name) for d, _t in self.current)
                if not left and not self.owners[name].granted:
                    del self.owners[name]
            return
        self.current.add(key)
        if self.owner(row.domain) is None:
            self.owners[owner_name(row.domain, ZONE)] = OwnerRow(row.account_id, False)

    def transfer(self, domain: str, from_account: str, to_account: str, grant: bool) -> None:
        row = self.owners.get(domain)
        self.owners[domain] = OwnerRow(to_account, grant or (row.granted if row else False))
        for name, other in self.owners.items():
            if name.endswith("." + domain) and other.account == from_account and not other.granted:
                other.account = to_account


def check_ownership(facts: Facts) -> list[tuple[str, list[str]]]:
    """(message, evidence) for each completed change by an account that never owned the name (nor
    found it unowned) while the request ran."""
    from soak.facts import final_at

    events: list[tuple[datetime, int, str, object]] = []
    rows = [
        r
        for r in facts.rows.values()
        if r.status == "COMPLETED"
        and r.source in ("api", "kafka")
        and not r.dry_run
        and (r.domain == ZONE or r.domain.endswith("." + ZONE))
    ]
    for row in rows:
        done = final_at(row)
        if done is None:
            continue
        events.append((row.created_at, 0, "open", row))
        events.append((done, 2, "complete", row))
    for t in facts.transfers:
        events.append((t["at"], 1, "transfer", t))
    events.sort(key=lambda e: (e[0], e[1]))
    model = Model()
    ok: dict[str, bool] = {}
    open_rows: dict[str, Row] = {}
    history: list[str] = []
    found: list[tuple[str, list[str]]] = []

    def look() -> None:
        for rid, row in open_rows.items():
            if not ok[rid] and model.owner(row.domain) in (None, row.account_id):
                ok[rid] = True

    for at, _order, kind, item in events:
        if kind == "open":
            row = item  # type: ignore[assignment]
            open_rows[row.id] = row
            ok[row.id] = model.owner(row.domain) in (None, row.account_id)
        elif kind == "transfer":
            t = item  # type: ignore[assignment]
            model.transfer(
                t["domain"], t["from_account"], t["to_account"], str(t["note"]).startswith("grant")
            )
            history.append(
                f"{at.isoformat()[11:23]} {t['note']} {t['domain']} {t['from_account']} → {t['to_account']}"
            )
            look()
        else:
            row = item  # type: ignore[assignment]
            open_rows.pop(row.id, None)
            if not ok.pop(row.id, True):
                found.append(
                    (
                        f"{row.summary()} completed, but {model.owner(row.domain)} owned {row.domain} "
                        f"from its acceptance ({row.created_at.isoformat()[11:23]}) to its completion "
                        f"({at.isoformat()[11:23]})",
                        [*history[-5:], *row.log_tail(8)],
                    )
                )
            model.complete(row)
            history.append(f"{at.isoformat()[11:23]} completed {row.summary()}")
            look()
    return found
