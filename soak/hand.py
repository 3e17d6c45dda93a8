"""Changes made by hand: a person's TSIG-signed `nsupdate` on the BIND primary, dnsorch unaware.

A change or a delete aims at a record set dnsorch keeps: it is sent only when `dns_records` has a
current row for it just before, and with the prerequisite that BIND serves the record set (RFC 2136
§2.4.1), so it never adds what nobody kept. An add aims at a name no client asks for. The TSIG key
is read from the stack's key file into memory only; it is never recorded or logged.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.query
import dns.rcode
import dns.update
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dnsorch.dns import tsig_key
from dnsorch.store.served_records import recorded_values
from soak.history import History
from soak.stack import ZONE

TIMEOUT = 5.0


def kept(engine: Engine, domain: str, rtype: str) -> tuple[list[str], int] | None:
    """What dnsorch keeps for the record set now (values, TTL), or None."""
    with engine.connect() as conn:
        return recorded_values(conn, domain, rtype)


def update_for(params: dict[str, Any], key_file: Path) -> dns.update.UpdateMessage:
    """The UPDATE a `hand` operation's params describe (action: change, delete or add)."""
    update = dns.update.UpdateMessage(ZONE, keyring=tsig_key(key_file))
    name = dns.name.from_text(params["domain"])
    rtype = params["rtype"]
    if params["action"] == "delete":
        update.present(name, rtype)
        update.delete(name, rtype)
    elif params["action"] == "change":
        update.present(name, rtype)
        update.replace(name, params["ttl"], rtype, params["value"])
    else:
        update.replace(name, params["ttl"], rtype, params["value"])
    return update


def send(params: dict[str, Any], key_file: Path, host: str, port: int) -> str:
    """Send the hand change over TCP; the server's answer code (NOERROR, NXRRSET, ...)."""
    response = dns.query.tcp(update_for(params, key_file), host, port=port, timeout=TIMEOUT)
    return dns.rcode.to_text(response.rcode())


async def change(
    index: int, p: dict[str, Any], engine: Engine, history: History, key_file: Path, host: str, port: int
) -> None:
    """Op `index`: a person's nsupdate on BIND; a change or delete only of what dnsorch keeps now."""
    found: tuple[list[str], int] | None = None
    if p["action"] != "add":
        try:
            found = await asyncio.to_thread(kept, engine, p["domain"], p["rtype"])
        except SQLAlchemyError as error:  # PostgreSQL stopped by a fault: the person waits no longer
            history.record("hand", op=index, **p, skipped=f"dns_records: {type(error).__name__}")
            return
        if found is None:
            history.record("hand", op=index, **p, skipped="dnsorch keeps nothing there")
            return
    sent = history.now()
    try:
        rcode = await asyncio.to_thread(send, p, key_file, host, port)
    except (dns.exception.DNSException, OSError) as error:
        history.record("hand", op=index, **p, kept=found, sent=sent, error=type(error).__name__)
        return
    history.record("hand", op=index, **p, kept=found, sent=sent, rcode=rcode)


def hand_value(rtype: str, rng: random.Random) -> str:
    """A value in presentation format that no client asks for, so a hand change always differs."""
    if rtype == "A":
        return f"192.0.2.{rng.randint(200, 250)}"
    if rtype == "AAAA":
        return f"2001:db8::ff{rng.randint(0, 99):02d}"
    if rtype == "CNAME":
        return "hand.example.org."
    if rtype == "MX":
        return f"{rng.choice((30, 40))} mx1.example.test."
    if rtype == "SRV":
        return f"30 1 {rng.randint(6000, 6100)} shop.example.test."
    return f'"hand-{rng.randint(1, 999)}"'
