"""Read a whole zone from the authoritative server by AXFR (RFC 5936), signed with dnsorch's TSIG key.

The key is read from the BIND key file at `settings.tsig_key_path`, the same file the playbook
reads; the secret stays in memory and never appears in an error message or a log line.
`settings` is anything with the three fields below: dnsorch.settings.Settings in every caller.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import dns.exception
import dns.name
import dns.query
import dns.tsig
import dns.xfr
import dns.zone

from dnsorch.contracts import DnsorchError

_KEY = {
    "name": re.compile(r'key\s+"?([A-Za-z0-9._-]+)"?\s*\{'),
    "algorithm": re.compile(r"algorithm\s+([A-Za-z0-9.-]+)\s*;"),
    "secret": re.compile(r'secret\s+"([^"]+)"'),
}
TRANSFER_LIFETIME_SECONDS = 120.0
"""A whole transfer's limit: a zone of 1,000 records takes well under a second on loopback."""


class TransferSettings(Protocol):
    """Where the primary is and which key it takes (dnsorch.settings.Settings has them)."""

    @property
    def dns_server(self) -> str: ...
    @property
    def dns_port(self) -> int: ...
    @property
    def tsig_key_path(self) -> Path: ...


class ZoneTransferFailed(DnsorchError):
    """The zone could not be read: no key, the server refused the transfer, or it did not answer."""


def tsig_key(path: Path) -> dns.tsig.Key:
    """The TSIG key of a BIND key file (`key "name" { algorithm …; secret "…"; };`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ZoneTransferFailed(f"cannot read the TSIG key file {path}: {error.strerror}") from None
    found = {field: pattern.search(text) for field, pattern in _KEY.items()}
    missing = [field for field, match in found.items() if match is None]
    if missing:
        raise ZoneTransferFailed(f"the TSIG key file {path} has no key {', '.join(missing)}")
    name, algorithm, secret = (found[f].group(1) for f in ("name", "algorithm", "secret"))  # type: ignore[union-attr]
    return dns.tsig.Key(dns.name.from_text(name), secret, dns.name.from_text(algorithm))


def read_zone(settings: TransferSettings, zone: str) -> dns.zone.Zone:
    """The zone as the primary serves it now, with absolute names; ZoneTransferFailed otherwise."""
    key = tsig_key(settings.tsig_key_path)
    where = f"{settings.dns_server}:{settings.dns_port}"
    served = dns.zone.Zone(dns.name.from_text(zone), relativize=False)
    query, _serial = dns.xfr.make_query(served, serial=None, keyring=key)
    try:
        dns.query.inbound_xfr(
            settings.dns_server,
            served,
            query=query,
            port=settings.dns_port,
            lifetime=TRANSFER_LIFETIME_SECONDS,
        )
    except dns.tsig.PeerError as error:  # BADKEY, BADSIG, BADTIME: the server refused our key
        raise ZoneTransferFailed(
            f"{where} refused the TSIG key for the transfer of {zone}: {error}"
        ) from None
    except dns.xfr.TransferError as error:  # REFUSED, NOTAUTH, NOTIMP...
        raise ZoneTransferFailed(f"{where} refused the transfer of {zone}: {error}") from None
    except (dns.exception.DNSException, OSError) as error:
        raise ZoneTransferFailed(f"the transfer of {zone} from {where} failed: {error}") from None
    return served
