"""The lock activity starts the lock workflow by name (activities import no workflow): the name and
what it starts with must be the ones the worker registers."""

from __future__ import annotations

import typing

from temporalio import workflow

from activities.name_lock import LOCK_WORKFLOW
from dnsorch.contracts import LockState
from workflows.name_lock import DnsNameLockWorkflow

DEFINITION = workflow._Definition.must_from_class(DnsNameLockWorkflow)


def test_the_activity_starts_the_lock_workflow_by_its_registered_name_and_input() -> None:
    assert DEFINITION.name == LOCK_WORKFLOW
    assert typing.get_type_hints(DEFINITION.run_fn)["state"] is LockState
    assert "acquire" in DEFINITION.signals
