"""Workflow inputs must survive Temporal's data converter, or the workflow can never start."""

from __future__ import annotations

from temporalio.converter import DataConverter

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
