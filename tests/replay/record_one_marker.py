"""Record the histories of ONE_MARKER (workflows/patches.py): `python -m tests.replay.record_one_marker`.

The scenarios of other recorders, run again now that one marker stands for their patches: straight
through with a PTR, frozen, a dangling target approved, a dry run, a refused then fixed resolve, a
cancel in flight, a fail in flight and a TTL dance. Time-skipping server and the stubs of
tests/fixtures/workflow_stubs.py. tests/unit/workflows/replay/test_replay_one_marker.py replays them.
Run it after a deliberate, versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fixtures.freeze_stubs import FrozenStore
from tests.fixtures.workflow_stubs import Primary
from tests.replay import record_cancel, record_fewer_steps, record_resolve, record_ttl_dance
from tests.replay.recording import record_all

HISTORIES = Path(__file__).parent / "histories" / "one-marker"


async def main() -> None:
    steps = record_fewer_steps.SCENARIOS
    await record_all(
        HISTORIES,
        {
            name: record_fewer_steps.clocked(steps[name])
            for name in (
                "completed_with_its_ptr",
                "frozen_then_completed",
                "dangling_target_approved",
                "dry_run",
            )
        },
        FrozenStore,
    )
    await record_all(
        HISTORIES,
        {
            "resolve_refused_then_fixed": record_resolve.refused_unanswered_then_fixed,
            "cancel_in_flight_restores": record_cancel.cancel_in_flight_restores,
            "fail_in_flight_restores": record_cancel.fail_in_flight_restores,
        },
        Primary,
    )
    await record_all(
        HISTORIES,
        {"dance_completed": record_ttl_dance.dance_completed},
        lambda: Primary(ttl=record_ttl_dance.OLD_TTL),
    )


if __name__ == "__main__":
    asyncio.run(main())
