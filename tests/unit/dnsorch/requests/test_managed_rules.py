"""The rules a request must keep with the records dnsorch already manages, refused at accept."""

from __future__ import annotations

import pytest

from dnsorch.contracts import (
    DnsRequestSpec,
    InvalidRequest,
    NameOwnedByAnotherAccount,
    RecordConflict,
    RecordExists,
    RecordMissing,
)
from dnsorch.dns import check_target
from dnsorch.requests.rules import ManagedState, check
from tests.fixtures.specs import request_spec


def spec(record_type: str = "A", operation: str = "create", target: str = "192.0.2.1") -> DnsRequestSpec:
    return request_spec(
        account_id="acct-a",
        record_type=record_type,
        domain="shop.example.test",
        target=target,
        operation=operation,
    )


def test_a_name_another_account_owns_is_refused_for_every_operation() -> None:
    for operation in ("create", "update", "delete"):
        with pytest.raises(NameOwnedByAnotherAccount) as refused:
            check(spec(operation=operation), ManagedState(owner="acct-b", types={"A"}))
        assert "acct-b" not in str(refused.value), "the other account's name is not shown to a submitter"


def test_create_means_create_and_update_or_delete_need_the_record() -> None:
    with pytest.raises(RecordExists, match="already exists: send an update"):
        check(spec(), ManagedState(owner="acct-a", types={"A"}))
    for operation in ("update", "delete"):
        with pytest.raises(RecordMissing, match=f"nothing to {operation}"):
            check(spec(operation=operation), ManagedState(owner="acct-a", types={"TXT"}))
    check(spec(), ManagedState(owner="acct-a", types={"TXT"}))  # another type at the name is fine
    check(spec(operation="update"), ManagedState(owner="acct-a", types={"A"}))
    check(spec(), ManagedState())  # a new name


def test_a_cname_shares_its_name_with_nothing_in_either_order() -> None:
    with pytest.raises(RecordConflict, match="a CNAME cannot share its name with other data"):
        check(spec("CNAME", target="www.example.test"), ManagedState(owner="acct-a", types={"A", "MX"}))
    with pytest.raises(RecordConflict, match="is a CNAME: no other data"):
        check(spec("TXT", target="hello"), ManagedState(owner="acct-a", types={"CNAME"}))


def test_an_mx_or_srv_target_must_not_be_a_cname() -> None:
    for record_type in ("MX", "SRV"):
        with pytest.raises(RecordConflict, match=r"is a CNAME: it must name a host \(RFC 2181 §10.3\)"):
            check(spec(record_type, target="alias.example.test"), ManagedState(target_is_cname=True))


@pytest.mark.parametrize("record_type", ["CNAME", "MX", "SRV"])
@pytest.mark.parametrize("address", ["192.0.2.7", "2001:db8::7", "192.0.2.7."])
def test_a_host_name_target_that_is_an_ip_literal_is_a_422(record_type: str, address: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_target(record_type, address)
    assert refused.value.field == "resource.target"
    assert refused.value.reason == f"a {record_type} target must be a host name, not an IP address"
