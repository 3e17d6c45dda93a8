"""Connecting to Temporal, and registering our search attributes where a server lacks them."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from dnsorch import telemetry
from dnsorch.settings import Settings
from dnsorch.temporal.search_attributes import SEARCH_ATTRIBUTE_NAMES


async def connect(settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """The one way every role connects: settings' address and namespace, tracing interceptor when on.

    `lazy`: connect on first use, so the API and the consumer start while Temporal is still coming up.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        lazy=lazy,
        runtime=runtime,
        interceptors=telemetry.temporal_interceptors(settings),
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Add the attributes the server does not know yet; a no-op when they exist."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(listed.custom_attributes)
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list
            raise
        known = set()
    missing = {
        name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for name in SEARCH_ATTRIBUTE_NAMES
        if name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
