#!/usr/bin/python
"""Ansible module of dnsorch's own: apply a batch of DNS changes as a few RFC 2136 UPDATE messages.

`community.general.nsupdate` sends one RRset per task and spends 2-3 round trips on it; this
module sends up to `max_changes` changes (and at most `max_bytes` of wire data) per TSIG-signed
UPDATE over TCP, one zone per message, in arrival order. An UPDATE is atomic (RFC 2136 §3.2-3.4):
one change the server refuses makes it refuse the whole message, so a refused message is split in
halves and resent until the culprit stands alone; only that change is reported refused. A
transport error (server down, timeout) is not the changes' fault: every change not yet applied is
reported failed, and retried by its own request.

Each change carries its RFC 2136 prerequisite, so the server itself refuses a lost race: a create
requires that the RRset does not exist yet (YXRRSET if it does) and, as a CNAME shares its name
with no other data, that the name is unused (for a CNAME: YXDOMAIN) or holds no CNAME (for any
other type: YXRRSET); an update requires that the RRset exists (NXRRSET if not). Such a refusal
is reported `conflict`, with a reason a person understands, except for a create whose RRset the
server already serves exactly as asked, values and TTL: that is this change applied before (a retry
after a lost answer) and is reported `applied`.

The TSIG key is read here from the BIND key file whose *path* the play passes, so the secret is
never a module argument, an extra-var, an event or a log line. Request strings come from the
payload file and are never templated. Outcomes go to `results_file` as JSON:
`{"results": [{"request_id", "status": "applied"|"conflict"|"refused"|"failed", "message"}]}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: dns_batch_update
short_description: Apply many DNS changes in few TSIG-signed RFC 2136 UPDATE messages
options:
  server: {type: str, required: true}
  port: {type: int, default: 53}
  key_file: {type: path, required: true, description: BIND key file (name, algorithm, secret)}
  payload_file: {type: path, required: true, description: JSON {"changes": [...]}}
  results_file: {type: path, required: true}
  max_changes: {type: int, default: 100}
  max_bytes: {type: int, default: 16384}
  timeout: {type: float, default: 10}
"""

_KEY = {
    "name": re.compile(r'key\s+"?([A-Za-z0-9._-]+)"?\s*\{'),
    "algorithm": re.compile(r"algorithm\s+([A-Za-z0-9.-]+)\s*;"),
    "secret": re.compile(r'secret\s+"([^"]+)"'),
}


class TransportError(Exception):
    """The server could not be reached or did not answer: no change is to blame."""


class KeyRefused(Exception):
    """The server refused our TSIG key (BADKEY, BADSIG, BADTIME): every change would be refused."""


def read_key(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    found = {field: pattern.search(text) for field, pattern in _KEY.items()}
    missing = [field for field, match in found.items() if match is None]
    if missing:
        raise ValueError(f"TSIG key file {path} has no key {', '.join(missing)}")
    return {field: match.group(1) for field, match in found.items() if match is not None}


class Sender:
    def __init__(self, server: str, port: int, key: dict[str, str], timeout: float, max_bytes: int):
        import dns.name
        import dns.tsig

        self.server, self.port, self.timeout, self.max_bytes = server, port, timeout, max_bytes
        self.key = dns.tsig.Key(
            dns.name.from_text(key["name"]), key["secret"], dns.name.from_text(key["algorithm"])
        )
        self.messages = 0

    def message(self, zone: str, changes: list[dict[str, Any]]) -> Any:
        import dns.name
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        import dns.update

        origin = dns.name.from_text(zone)
        update = dns.update.UpdateMessage(origin, keyring=self.key)
        for change in changes:
            name = dns.name.from_text(change["domain"])
            rdtype = dns.rdatatype.from_text(change["record_type"])
            if change["operation"] == "delete" or not change["values"]:
                update.delete(name, rdtype)  # a delete, or a rollback to "nothing was here"
                continue
            if change["operation"] == "create":
                update.absent(name, rdtype)
                # A CNAME shares its name with no other data (RFC 1034 §3.6.2, RFC 2181 §10.1).
                if rdtype == dns.rdatatype.CNAME:
                    update.absent(name)
                else:
                    update.absent(name, dns.rdatatype.CNAME)
            elif change["operation"] == "update":
                update.present(name, rdtype)
            # "restore" (a rollback to the plan's snapshot) has no prerequisite: the RRset becomes the
            # snapshot whether or not the change it undoes was applied.
            update.replace(name, int(change["ttl"]), *self.rdatas(zone, change))
        return update

    @staticmethod
    def rdatas(zone: str, change: dict[str, Any]) -> list[Any]:
        import dns.name
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype

        rdtype = dns.rdatatype.from_text(change["record_type"])
        origin = dns.name.from_text(zone)
        # Absolute names inside the rdata (relativize=False): relative ones never equal what a
        # query answers, and a create of a CNAME, MX or SRV applied before was refused as a conflict.
        return [
            dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=origin, relativize=False)
            for value in change["values"]
        ]

    def serves_exactly(self, zone: str, change: dict[str, Any]) -> bool:
        """Whether the server answers the change's name and type with exactly its values and TTL
        (another create's RRset with the same values but another TTL is not this one)."""
        import dns.message
        import dns.query
        import dns.rdatatype

        query = dns.message.make_query(change["domain"], change["record_type"])
        try:
            response = dns.query.tcp(query, self.server, port=self.port, timeout=self.timeout)
        except Exception:
            return False
        rdtype = dns.rdatatype.from_text(change["record_type"])
        rrsets = [rrset for rrset in response.answer if rrset.rdtype == rdtype]
        served = {rdata for rrset in rrsets for rdata in rrset}
        same_ttl = all(rrset.ttl == int(change["ttl"]) for rrset in rrsets)
        return bool(rrsets) and same_ttl and served == set(self.rdatas(zone, change))

    def send(self, zone: str, changes: list[dict[str, Any]]) -> str:
        """The response's rcode name ("NOERROR", "REFUSED", ...); TransportError when none came."""
        import dns.exception
        import dns.query
        import dns.rcode
        import dns.tsig

        update = self.message(zone, changes)
        self.messages += 1
        try:
            response = dns.query.tcp(update, self.server, port=self.port, timeout=self.timeout)
        except dns.tsig.PeerError as error:  # the key is wrong, not a change
            raise KeyRefused(type(error).__name__) from error
        except (OSError, EOFError, dns.exception.Timeout, dns.exception.FormError) as error:
            raise TransportError(f"{type(error).__name__}: {error}") from error
        return str(dns.rcode.to_text(response.rcode()))

    def too_big(self, zone: str, changes: list[dict[str, Any]]) -> bool:
        return len(changes) > 1 and len(self.message(zone, changes).to_wire()) > self.max_bytes


def chunks(changes: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(changes), size):
        yield changes[start : start + size]


def apply(sender: Sender, changes: list[dict[str, Any]], max_changes: int) -> list[dict[str, str]]:
    """One outcome per change, in the changes' order."""
    outcomes: dict[int, dict[str, str]] = {}
    pending: list[tuple[str, list[int]]] = []  # (zone, indexes) messages still to send, in order
    by_zone: dict[str, list[int]] = {}
    for index, change in enumerate(changes):
        by_zone.setdefault(change["zone"], []).append(index)
    for zone, indexes in by_zone.items():
        pending.extend((zone, chunk) for chunk in chunks(indexes, max(1, max_changes)))

    def outcome(index: int, status: str, message: str) -> None:
        outcomes[index] = {"request_id": changes[index]["request_id"], "status": status, "message": message}

    while pending:
        zone, indexes = pending.pop(0)
        batch = [changes[i] for i in indexes]
        try:
            if sender.too_big(zone, batch):
                half = len(indexes) // 2
                pending[:0] = [(zone, indexes[:half]), (zone, indexes[half:])]
                continue
            rcode = sender.send(zone, batch)
        except TransportError as error:
            for _zone, rest in [(zone, indexes), *pending]:
                for index in rest:
                    outcome(index, "failed", f"no answer from {sender.server}:{sender.port}: {error}")
            break
        except KeyRefused as error:
            for _zone, rest in [(zone, indexes), *pending]:
                for index in rest:
                    outcome(index, "refused", f"TSIG key refused by {sender.server}:{sender.port} ({error})")
            break
        except Exception as error:  # bad rdata or name: this change can never be sent
            if len(indexes) > 1:
                half = len(indexes) // 2
                pending[:0] = [(zone, indexes[:half]), (zone, indexes[half:])]
                continue
            outcome(indexes[0], "refused", f"cannot build the update: {error}")
            continue
        if rcode == "NOERROR":
            for index in indexes:
                outcome(index, "applied", "NOERROR")
        elif len(indexes) > 1:  # atomic: find the culprit, in order, so the others still apply
            half = len(indexes) // 2
            pending[:0] = [(zone, indexes[:half]), (zone, indexes[half:])]
        else:
            change = changes[indexes[0]]
            what = f"{change['record_type']} {change['domain']}"
            if rcode in ("YXRRSET", "YXDOMAIN") and change["operation"] == "create":
                if sender.serves_exactly(zone, change):
                    outcome(indexes[0], "applied", "already served exactly as asked (applied before)")
                elif rcode == "YXDOMAIN":
                    reason = f"{what}: the name already holds other data, and a CNAME cannot share it"
                    outcome(indexes[0], "conflict", reason)
                else:
                    reason = (
                        f"{what} already exists on the DNS server (or the name holds a CNAME): use update"
                    )
                    outcome(indexes[0], "conflict", reason)
                continue
            if rcode == "NXRRSET" and change["operation"] == "update":
                outcome(indexes[0], "conflict", f"{what} does not exist on the DNS server: nothing to update")
                continue
            verdict = "failed" if rcode == "SERVFAIL" else "refused"
            outcome(
                indexes[0], verdict, f"{rcode} for {what} in zone {zone} on {sender.server}:{sender.port}"
            )
    return [outcomes[i] for i in range(len(changes))]


ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "server": {"type": "str", "required": True},
    "port": {"type": "int", "default": 53},
    "key_file": {"type": "path", "required": True},
    "payload_file": {"type": "path", "required": True},
    "results_file": {"type": "path", "required": True},
    "max_changes": {"type": "int", "default": 100},
    "max_bytes": {"type": "int", "default": 16384},
    "timeout": {"type": "float", "default": 10.0},
}


class Unreadable(Exception):
    """The key file or the payload cannot be read: the task fails with this message."""


def run(params: dict[str, Any]) -> dict[str, Any]:
    """The task's result for validated `params` (as the module always returned it)."""
    try:
        key = read_key(params["key_file"])
    except (OSError, ValueError) as error:
        raise Unreadable(f"TSIG key file error: {error}") from None
    try:
        with open(params["payload_file"], encoding="utf-8") as handle:
            changes = json.load(handle)["changes"]
    except (OSError, ValueError, KeyError) as error:
        raise Unreadable(f"unsupported change: unreadable payload ({error})") from None
    sender = Sender(params["server"], params["port"], key, params["timeout"], params["max_bytes"])
    results = apply(sender, changes, params["max_changes"])
    with open(params["results_file"], "w", encoding="utf-8") as handle:
        json.dump({"results": results, "messages": sender.messages}, handle)
    applied = sum(1 for r in results if r["status"] == "applied")
    return {
        "changed": applied > 0,
        "applied": applied,
        "refused": sum(1 for r in results if r["status"] in ("refused", "conflict")),
        "failed": sum(1 for r in results if r["status"] == "failed"),
        "messages": sender.messages,
    }


def main() -> None:
    """As a module, in a Python process of its own (dnsorch's playbook runs it in the controller
    instead: playbooks/action_plugins/dns_batch_update.py)."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=False)
    try:
        result = run(module.params)
    except Unreadable as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
