"""The name's turn and the plan in one local activity (patch fewer-steps-to-apply): a request that
finds its names free holds them and reads what the primary serves in one step of its workflow task
instead of two per change. A name another request holds first ends the step before any plan: the
workflow waits for that turn in its own activity (activities/name_claims.py), then asks again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import activity

from activities.name_claims import NameClaims, NameOwned, RequestEnded, refused_error
from dnsorch.contracts import ChangePlan, DnsChange, TurnsPlanned, TurnsToPlan

Plan = Callable[[DnsChange], Awaitable[ChangePlan]]
"""What the primary serves at a change's name, planned (activities/planning.py's `plan_change`)."""


class TurnsAndPlansActivities:
    """Constructed once per worker from the name claims and the plan it already has."""

    def __init__(self, claims: NameClaims, plan: Plan) -> None:
        self._claims = claims
        self._plan = plan

    @activity.defn(name="take_turns_and_plan")
    async def take_turns_and_plan(self, asked: TurnsToPlan) -> TurnsPlanned:
        """1. The turn on each name, in the order given (a name already held is renewed, so a retry
        or a second ask after a wait takes nothing twice); the first name another request holds
        ends it there. 2. Only once every name is held: each change's plan, in order."""
        for index, change in enumerate(asked.changes):
            try:
                first = await self._claims.try_turn(change)
            except (NameOwned, RequestEnded) as refused:
                raise refused_error(refused) from None
            if first is not None:
                return TurnsPlanned(first=first, waits_at=index)
        return TurnsPlanned(plans=[await self._plan(change) for change in asked.changes])
