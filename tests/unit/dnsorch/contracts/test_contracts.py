"""Workflow inputs must survive Temporal's data converter, or the workflow can never start; also inside
the workflow sandbox, which holds the `dnsorch.contracts` package a workflow imports but not the
modules behind its face."""

from __future__ import annotations

import dataclasses

from temporalio.converter import DataConverter

import dnsorch.contracts
from dnsorch.contracts import ProvisioningInput
from tests.fixtures.specs import request_spec


async def test_a_request_with_extra_config_round_trips_through_the_converter() -> None:
    spec = request_spec(
        record_type="SRV",
        domain="_sip._tcp.example.test",
        target="sip.example.test",
        priority=10,
        extra_config={"port": 5060, "weight": 5, "note": "x", "flag": True, "none": None},
    )
    converter = DataConverter.default
    payloads = await converter.encode([ProvisioningInput(request=spec)])
    decoded = (await converter.decode(payloads, [ProvisioningInput]))[0]
    assert decoded.request.extra_config == spec.extra_config


def test_every_contract_field_is_annotated_with_a_type_the_sandbox_need_not_resolve() -> None:
    """A string annotation is resolved in its module's globals, which the sandbox does not hold."""
    contracts = [getattr(dnsorch.contracts, name) for name in dnsorch.contracts.__all__]
    dataclass_types = [c for c in contracts if dataclasses.is_dataclass(c)]
    assert len(dataclass_types) > 20
    unresolved = [
        f"{kind.__name__}.{field.name}"
        for kind in dataclass_types
        for field in dataclasses.fields(kind)
        if isinstance(field.type, str)
    ]
    assert not unresolved
