"""Changes made by hand: a person's TSIG-signed `nsupdate` on the BIND primary, dnsorch unaware.

A change or a delete aims at a record set dnsorch keeps: it is sent only when `dns_records` has a
current row for it just before, and with the prerequisite that BIND serves the record set (RFC 2136
§2.4.1), so it never adds what nobody kept. An add aims at a name no client asks for. The TSIG key
is read from the stack's key file into memory only; it is never recorded or logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.name
import dns.query
import dns.rcode
import dns.update
from sqlalchemy import Engine

from dnsorch.dns import tsig_key
from dnsorch.store.served_records import recorded_values
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
