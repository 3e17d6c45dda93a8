"""What a request's workflow history holds, on average over some of a burst's requests: its workflow
tasks, local activities, activities, timers and patch markers. Each costs the worker and Temporal
CPU, so these counts explain the CPU per record (and show when a change costs more round trips)."""

from __future__ import annotations

import asyncio
from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from dnsorch.contracts import workflow_id_for

COUNTED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow tasks",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
}


async def history_shape(address: str, namespace: str, request_ids: list[str]) -> dict[str, float]:
    """Mean count per request of each COUNTED event, and of all events, over `request_ids`."""
    client = await Client.connect(address, namespace=namespace)
    totals: Counter[str] = Counter()

    async def count(request_id: str) -> None:
        history = await client.get_workflow_handle(workflow_id_for(request_id)).fetch_history()
        totals["events"] += len(history.events)
        for event in history.events:
            if event.event_type in COUNTED:
                totals[COUNTED[event.event_type]] += 1
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                marker = event.marker_recorded_event_attributes.marker_name
                totals["local activities" if marker == "core_local_activity" else "patch markers"] += 1

    await asyncio.gather(*(count(request_id) for request_id in request_ids))
    return {name: value / max(1, len(request_ids)) for name, value in totals.items()}
