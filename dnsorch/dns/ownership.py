"""Who may change a DNS name: ownership follows the tree of names.

The owner of a name owns every name below it, down to a name an operator granted (or
transferred) to another account, where that account's subtree begins. Underscore labels
(`_acme-challenge`, `_dmarc`, `sel._domainkey`, an SRV's `_service._proto`) belong to the owner of
the name they attach to: whoever controls `_acme-challenge.web` can get a certificate for `web`
(RFC 8555 §8.4), and a DKIM key or a DMARC policy speaks for the name below it (RFC 8552 §2).

A zone's apex is the one name whose owner does not own what is below it: the apex's records
(an MX for the zone's mail, say) must not make one team the owner of the whole zone. Names under
an apex go to their first creator unless an operator grants the subtree.

Ownership rows are kept at owner names only (`owner_name`): a create below an owned name adds no
row, so moving a subtree is moving one row.
"""

from __future__ import annotations

import functools

import dns.name


def _name(text: str | dns.name.Name) -> dns.name.Name:
    return text if isinstance(text, dns.name.Name) else dns.name.from_text(text)


def attach_name(name: str | dns.name.Name) -> dns.name.Name:
    """The name an underscore-labelled name speaks for: everything up to and including the
    underscore label closest to the root is removed (`sel._domainkey.web.x.` → `web.x.`)."""
    labels = _name(name).labels
    last = max((i for i, label in enumerate(labels) if label.startswith(b"_")), default=-1)
    return dns.name.Name(labels[last + 1 :])


def owner_candidates(name: str | dns.name.Name, zone: str | dns.name.Name) -> list[str]:
    """The names whose owner row would decide who owns `name`, closest first, as stored (no final
    dot, lower case): the attach name and its ancestors strictly below the apex, and the apex
    itself only when the name attaches to it."""
    return list(_owner_candidates(name, zone))


@functools.lru_cache(maxsize=4096)
def _owner_candidates(name: str | dns.name.Name, zone: str | dns.name.Name) -> tuple[str, ...]:
    """Cached: a name's turn asks it three times, and parsing the names cost more than the queries."""
    attach, apex = attach_name(name), _name(zone)
    if not attach.is_subdomain(apex):
        return (_text(attach),)
    found: list[str] = []
    current = attach
    while current != apex:
        found.append(_text(current))
        current = current.parent()
    if attach == apex:
        found.append(_text(apex))
    return tuple(found)


def owner_name(name: str | dns.name.Name, zone: str | dns.name.Name) -> str:
    """Where a first creator's ownership is recorded: the name it attaches to."""
    return owner_candidates(name, zone)[0]


def closest_owner(candidates: list[str], owners: dict[str, str]) -> tuple[str, str] | None:
    """(owner name, account) of the closest candidate that has an owner, if any."""
    for candidate in candidates:
        if candidate in owners:
            return candidate, owners[candidate]
    return None


def _text(name: dns.name.Name) -> str:
    return name.canonicalize().to_text(omit_final_dot=True)
