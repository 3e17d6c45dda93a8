"""Verify everywhere, for DnsProvisioningWorkflow: a change counts once every authoritative server of
its zone serves it. Deterministic code only: the servers are asked in local activities, and between
two checks the workflow sleeps on durable timers, so a worker restart neither loses nor repeats a
wait."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.verification import VerificationActivities
    from dnsorch.contracts import (
        SERVERS_UNKNOWN,
        DnsChange,
        NameServer,
        ServedCheck,
        ServerAnswer,
        ZoneServed,
    )
    from workflows.bookkeeping import flush, log
    from workflows.policy import (
        CHECK_RETRY,
        CHECK_TIMEOUT,
        FIRST_CHECK_WAIT,
        SERVERS_RETRY,
        SERVERS_TIMEOUT,
        ZONE_CHECK_TIMEOUT,
        failure_reason,
    )
    from workflows.run_state import RequestRun


async def verify_everywhere(run: RequestRun, change: DnsChange, served_at: datetime | None) -> str | None:
    """Wait until every authoritative server serves `change`; what is wrong if one does not in time."""
    assert run.params is not None
    policy = run.params.policy
    own_zone = change.zone == run.request.zone  # else a PTR's reverse zone (workflows/ptrs.py)
    servers = run.servers if own_zone else run.zone_servers.get(change.zone)
    first: list[ServerAnswer] | None = None  # the first check's answers, when it looked the servers up
    since, deadline = _window(served_at, policy.propagation_timeout_seconds)
    if servers is None:  # looked up once per request: a retry asks the same servers
        try:
            if run.fewer_round_trips:
                servers, first = await _servers_and_first_check(change, since, deadline)
            else:
                servers = await workflow.execute_local_activity_method(
                    VerificationActivities.authoritative_servers,
                    change.zone,
                    start_to_close_timeout=SERVERS_TIMEOUT,
                    retry_policy=SERVERS_RETRY,
                )
        except (ActivityError, ApplicationError) as error:
            if isinstance(error, ApplicationError) and not run.fewer_round_trips:
                raise  # a local activity's comes unwrapped: before the patch, it failed the workflow
            if run.fewer_round_trips and _failure_type(error) != SERVERS_UNKNOWN:
                raise  # the check itself failed, as a plain check_served's failure does
            return f"the authoritative servers of {change.zone} are unknown: {failure_reason(error)}"
        if own_zone:
            run.servers = servers
        else:
            run.zone_servers[change.zone] = servers
    if first is None:  # the window opens at the first check
        since, deadline = _window(served_at, policy.propagation_timeout_seconds)
    pending, wait = list(servers), FIRST_CHECK_WAIT
    times: dict[str, float] = {}
    while True:
        left = max(timedelta(0), deadline - workflow.now())
        if first is not None:
            answers, first = first, None
        else:
            answers = await workflow.execute_local_activity_method(
                VerificationActivities.check_served,
                ServedCheck(change, pending, since, wait_seconds=min(wait, left).total_seconds()),
                start_to_close_timeout=CHECK_TIMEOUT,
                retry_policy=CHECK_RETRY,
            )
        times.update({a.server.label: round(a.seconds or 0.0, 3) for a in answers if a.serves})
        behind = [a for a in answers if not a.serves]
        if not behind:
            served = ", ".join(f"{label} after {seconds:.2f}s" for label, seconds in times.items())
            if not own_zone:  # a PTR's: the request's propagation stays its own change's
                what = f"{change.record_type} {change.domain}"
                await log(
                    run, f"{what} served by every authoritative server: {served}", step="verify", defer=True
                )
                return None
            run.state.propagation = times
            await log(
                run,
                f"served by every authoritative server: {served}",
                step="verify",
                propagation=times,
                defer=True,  # rides with the next write (fewer-round-trips)
            )
            return None
        if workflow.now() >= deadline:
            if own_zone:
                run.state.propagation = times
            late = "; ".join(a.describe() for a in behind)
            return f"not served everywhere within {policy.propagation_timeout_seconds:g}s: {late}"
        names = ", ".join(a.server.label for a in behind)
        workflow.set_current_details(f"waiting for {names} to serve the change")
        await flush(run)  # no line waits unwritten through a durable timer
        await workflow.sleep(min(timedelta(seconds=policy.propagation_interval_seconds), left))
        pending, wait = [a.server for a in behind], timedelta(0)


async def _servers_and_first_check(
    change: DnsChange, since: datetime, deadline: datetime
) -> tuple[list[NameServer], list[ServerAnswer]]:
    """The zone's servers and their first answers, in one local activity (fewer-round-trips)."""
    wait = min(FIRST_CHECK_WAIT, max(timedelta(0), deadline - workflow.now()))
    found: ZoneServed = await workflow.execute_local_activity_method(
        VerificationActivities.check_served_in_zone,
        ServedCheck(change, [], since, wait_seconds=wait.total_seconds()),
        start_to_close_timeout=ZONE_CHECK_TIMEOUT,
        retry_policy=CHECK_RETRY,
    )
    return found.servers, found.answers


def _window(served_at: datetime | None, timeout_seconds: float) -> tuple[datetime, datetime]:
    """Since when the servers' times count, and until when they may take."""
    return served_at or workflow.now(), workflow.now() + timedelta(seconds=timeout_seconds)


def _failure_type(error: ActivityError | ApplicationError) -> str | None:
    """The failure's type: a local activity's error comes unwrapped, a remote one's as the cause."""
    cause = error.cause if isinstance(error, ActivityError) else error
    return cause.type if isinstance(cause, ApplicationError) else None
