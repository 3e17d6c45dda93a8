"""The gateway names the workflow's handlers as strings (the core may not import workflows/): each
name must exist on `DnsProvisioningWorkflow` with the same kind and types, so renaming a handler, or
changing what it takes, fails here rather than in a request."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from temporalio import workflow

from dnsorch.contracts import ExpiryInput, ExpiryState, ProvisioningInput, WorkflowState
from dnsorch.temporal import EXPIRY_HANDLERS, EXPIRY_WORKFLOW_TYPE, HANDLERS, WORKFLOW_TYPE, Handler, gateway
from workflows.expiry import RecordExpiryWorkflow
from workflows.provisioning import DnsProvisioningWorkflow

DEFINITION = workflow._Definition.must_from_class(DnsProvisioningWorkflow)


def handlers_of_kind(kind: str) -> dict[str, Any]:
    return {"signal": DEFINITION.signals, "update": DEFINITION.updates, "query": DEFINITION.queries}[kind]


def test_the_gateway_starts_the_workflow_by_its_registered_name_and_input() -> None:
    assert DEFINITION.name == WORKFLOW_TYPE
    hints = typing.get_type_hints(DEFINITION.run_fn)
    assert hints["params"] is ProvisioningInput
    assert hints["return"] is WorkflowState


@pytest.mark.parametrize("handler", HANDLERS, ids=[h.name for h in HANDLERS])
def test_every_handler_the_gateway_names_exists_on_the_workflow_with_its_kind_and_types(
    handler: Handler,
) -> None:
    found = handlers_of_kind(handler.kind)
    assert handler.name in found, f"{WORKFLOW_TYPE} has no {handler.kind} named {handler.name!r}"
    for other in {"signal", "update", "query"} - {handler.kind}:
        assert handler.name not in handlers_of_kind(other)
    hints = typing.get_type_hints(found[handler.name].fn)
    params = [type_ for name, type_ in hints.items() if name != "return"]
    assert params == ([] if handler.arg is None else [handler.arg])
    if handler.kind != "signal":  # a signal's result is never seen
        assert hints["return"] is handler.result


def test_the_gateway_names_each_handler_once_and_lists_them_all() -> None:
    named = [h.name for h in HANDLERS]
    assert len(named) == len(set(named))
    constants = {v.name for v in vars(gateway).values() if isinstance(v, Handler)}
    assert constants == set(named) | {h.name for h in EXPIRY_HANDLERS}


EXPIRY = workflow._Definition.must_from_class(RecordExpiryWorkflow)


def test_the_gateway_starts_the_expiry_by_its_registered_name_and_input() -> None:
    assert EXPIRY.name == EXPIRY_WORKFLOW_TYPE
    hints = typing.get_type_hints(EXPIRY.run_fn)
    assert hints["params"] is ExpiryInput
    assert hints["return"] is ExpiryState


@pytest.mark.parametrize("handler", EXPIRY_HANDLERS, ids=[h.name for h in EXPIRY_HANDLERS])
def test_every_expiry_handler_the_gateway_names_exists_with_its_kind_and_types(handler: Handler) -> None:
    found = {"update": EXPIRY.updates, "query": EXPIRY.queries}[handler.kind]
    assert handler.name in found, f"{EXPIRY_WORKFLOW_TYPE} has no {handler.kind} named {handler.name!r}"
    hints = typing.get_type_hints(found[handler.name].fn)
    params = [type_ for name, type_ in hints.items() if name != "return"]
    assert params == ([] if handler.arg is None else [handler.arg])
    assert hints["return"] is handler.result
