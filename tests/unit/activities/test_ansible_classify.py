"""Which playbook failures are retried: the messages are ones seen from real runs."""

from __future__ import annotations

import pytest

from activities.playbook_runs import classify_failure, failure_error

SEEN_PERMANENT = [
    "TSIG update error (PeerBadSignature): The peer didn't like the signature we sent"
    " for A a.example.test in zone example.test on 127.0.0.1:5353",
    "TSIG update error (PeerBadKey): The peer didn't know the key we used"
    " for A a.example.test in zone example.test on 127.0.0.1:5353",
    "TSIG update error (PeerBadTime): The peer didn't like the time we sent",
    "Failed to create DNS record (rc: 5) (rcode REFUSED) for A _x.example.test in zone"
    " example.test on 127.0.0.1:5353",
    "Failed to create DNS record (rc: 9) (rcode NOTAUTH) for A a.nope.test in zone nope.test",
    "Failed to create DNS record (rc: 10) (rcode NOTZONE) for A a.nope.test in zone example.test",
    "the dynamic update was not accepted (rcode NOTAUTH) for A a.nope.test in zone nope.test",
    "Failed to update DNS record (rc: 5)",  # an operator's playbook without rcode names
    "TSIG key file /srv/dns/tsig.key is missing or unreadable",
    "TSIG key file /srv/dns/tsig.key does not contain a key name, algorithm and secret",
    "TSIG key error: Incorrect padding",
    "playbook /etc/dnsorch/site.yml not found",
    "ERROR! the playbook: /etc/dnsorch/site.yml could not be found",
    "Invalid/malformed value",
    "unsupported change: operation or record type not handled, or no values",
]

SEEN_RETRYABLE = [
    "DNS server error: (ConnectionRefusedError): [Errno 111] Connection refused"
    " for A a.example.test in zone example.test on 127.0.0.1:15399",
    "DNS server error: (Timeout): The DNS operation timed out after 10.000 seconds",
    "Failed to create DNS record (rc: 2) (rcode SERVFAIL) for A a.example.test",
    "Failed to delete record (rc: 2)",
    "playbook did not finish within 300s",
    "ansible-playbook ended with rc=127: The command was not found or was not executable",
    "",
]


@pytest.mark.parametrize("message", SEEN_PERMANENT)
def test_failures_no_retry_can_fix_are_rejected(message: str) -> None:
    assert classify_failure(message) == "DnsChangeRejected"
    error = failure_error(message)
    assert error.type == "DnsChangeRejected" and error.non_retryable
    assert error.message == message


@pytest.mark.parametrize("message", SEEN_RETRYABLE)
def test_transient_failures_are_retried(message: str) -> None:
    assert classify_failure(message) == "DnsChangeFailed"
    error = failure_error(message)
    assert error.type == "DnsChangeFailed" and not error.non_retryable
