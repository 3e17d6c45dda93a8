"""A property test over generated names: no account completes a change at or below another account's
name, through any door, whatever the order of creates, deletes, grants and transfers.

Each generated step goes through the code the doors run: accept's check (`rules.read_state` and
`rules.check`, the reading the name's turn repeats), then what a completed request stores
(`apply_record`), or an operator's grant or transfer (`dnsorch/store/name_transfers.py`). A small
model written from the rules of docs/api.md ("Names, owners and conflicts") says what must happen; the two
must agree on every step, and on who owns every name at the end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from dnsorch.contracts import NameNotManaged, NameOwnedByAnotherAccount, RecordConflict, RecordRow
from dnsorch.requests import rules
from dnsorch.store import name_transfers, owners
from dnsorch.store.request_rows import insert_request
from dnsorch.store.served_records import apply_record
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration

ACCOUNTS = ("acct-a", "acct-b", "acct-c")
LABELS = ("web", "api", "_acme-challenge")  # few names, so steps meet on them

relative_names = st.lists(st.sampled_from(LABELS), min_size=0, max_size=2).map(lambda ls: ".".join(ls))
steps = st.lists(
    st.tuples(
        st.sampled_from(("create", "delete", "grant", "transfer")), st.sampled_from(ACCOUNTS), relative_names
    ),
    min_size=1,
    max_size=25,
)


@dataclass
class Model:
    """The ownership rules of docs/api.md, written as plainly as possible: strings and a dict."""

    zone: str
    rows: dict[str, tuple[str, bool]] = field(default_factory=dict)  # owner name -> (account, granted)
    records: set[str] = field(default_factory=set)

    def attach(self, name: str) -> str:
        labels = name.split(".")
        underscored = [i for i, label in enumerate(labels) if label.startswith("_")]
        return ".".join(labels[underscored[-1] + 1 :]) if underscored else name

    def covering(self, name: str) -> str | None:
        current = self.attach(name)
        if current == self.zone:
            return current if current in self.rows else None
        while current != self.zone:
            if current in self.rows:
                return current
            current = current.split(".", 1)[1]
        return None

    def owner(self, name: str) -> str | None:
        row = self.covering(name)
        return self.rows[row][0] if row else None

    def create(self, account: str, name: str) -> bool:
        if self.owner(name) not in (None, account) or name in self.records:
            return False
        if self.owner(name) is None:
            self.rows[self.attach(name)] = (account, False)
        self.records.add(name)
        return True

    def delete(self, account: str, name: str) -> bool:
        if self.owner(name) not in (None, account) or name not in self.records:
            return False
        self.records.discard(name)
        row = self.covering(name)
        if (
            row is not None
            and not self.rows[row][1]
            and not any(r == row or r.endswith("." + row) for r in self.records)
        ):
            del self.rows[row]
        return True

    def grant(self, account: str, name: str) -> None:
        before = self.rows.get(name, (None, False))[0]
        self.rows[name] = (account, True)
        if before is not None and before != account:
            self._move_below(name, before, account)

    def transfer(self, account: str, name: str) -> bool:
        if name not in self.rows:
            return False
        before, granted = self.rows[name]
        self.rows[name] = (account, granted)
        self._move_below(name, before, account)
        return True

    def _move_below(self, name: str, before: str, account: str) -> None:
        for row, (holder, granted) in list(self.rows.items()):
            if row.endswith("." + name) and holder == before and not granted:
                self.rows[row] = (account, granted)


def _accept_then_complete(engine: Engine, zone: str, operation: str, account: str, name: str) -> bool:
    """What a TXT request of `account` gets: accept's refusal, or its completion stored."""
    spec = request_spec(
        domain=name, zone=zone, account_id=account, operation=operation, record_type="TXT", target="v"
    )
    with engine.begin() as conn:
        try:
            rules.check(spec, rules.read_state(conn, spec))
        except (NameOwnedByAnotherAccount, RecordConflict):
            return False
        now = datetime.now(UTC)
        insert_request(conn, spec, now)
        row = RecordRow(
            spec.request_id, "TXT", name, "v", 300, None, None, now, operation, account, zone=zone
        )
        apply_record(conn, row)
    return True


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_nobody_completes_a_change_under_another_accounts_name(engine: Engine, steps: list) -> None:  # type: ignore[type-arg]
    zone = f"prop-{uuid.uuid4().hex[:10]}.test"
    model = Model(zone)
    for operation, account, relative in steps:
        name = f"{relative}.{zone}" if relative else zone
        if operation in ("create", "delete"):
            owner_before = model.owner(name)
            expected = getattr(model, operation)(account, name)
            done = _accept_then_complete(engine, zone, operation, account, name)
            assert done == expected, (operation, account, name, owner_before)
            assert not done or owner_before in (None, account), "completed under another account's name"
        elif operation == "grant":
            model.grant(account, name)
            name_transfers.grant(engine, name, account, "op")
        else:
            expected = model.transfer(account, name)
            try:
                name_transfers.transfer(engine, name, account, "op")
                done = True
            except NameNotManaged:
                done = False
            assert done == expected, (operation, account, name)
    with engine.connect() as conn:
        every = {
            f"{r}.{zone}" if r else zone for r in ("", "web", "api.web", "_acme-challenge.web", "x.api.web")
        }
        for name in every | model.records | set(model.rows):
            found = owners.owner_of(conn, name, zone)
            assert (found.account_id if found else None) == model.owner(name), name
