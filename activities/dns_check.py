"""Ask the authoritative server what it actually serves, so success means "served", not "sent".

Ansible reporting ok only says the UPDATE was accepted; the DNS answer is the ground truth
that the request row and the client are told about.
"""

from __future__ import annotations

import asyncio
import time

import dns.exception
import dns.name

from dnsorch.dns import query_rrset, read_rrset, same_rrset

__all__ = ["NotServed", "query_rrset", "read_rrset", "wait_until_served"]


class NotServed(TimeoutError):
    """The server did not serve the expected RRset before the deadline."""

    def __init__(
        self, name: str, rtype: str, expected: list[str], served: list[str], error: str = ""
    ) -> None:
        shown = f"could not be asked ({error})" if error else f"serves {served or 'nothing'}"
        super().__init__(f"{rtype} {name}: expected {expected or 'nothing'}, server {shown}")
        self.expected = expected
        self.served = served


async def wait_until_served(
    server: str,
    port: int,
    name: str,
    rtype: str,
    expected: list[str],
    *,
    origin: dns.name.Name | str | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - on expiry we report the last answer seen
    interval: float = 0.2,
) -> list[str]:
    """Poll until the server serves exactly `expected` (`[]`: nothing); return what it serves.

    Polling, not one query: a primary applies an accepted update at once, but an operator's
    playbook may update a hidden primary whose change reaches `server` by zone transfer.
    Raises NotServed with the last answer when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    served: list[str] = []
    while True:
        per_query = max(0.2, min(2.0, deadline - time.monotonic()))
        error = ""
        try:
            served = await query_rrset(server, port, name, rtype, timeout=per_query)
        except (dns.exception.DNSException, OSError) as exc:
            # Unreachable or SERVFAIL for now: keep asking until the deadline.
            error = f"{type(exc).__name__}: {exc}"
        else:
            if same_rrset(expected, served, rtype, origin):
                return served
        if time.monotonic() + interval > deadline:
            raise NotServed(name, rtype, expected, served, error)
        await asyncio.sleep(interval)
