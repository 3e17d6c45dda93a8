"""The outbox of workflow starts (`workflow_starts`): a request's row and its start commit together.

An entry holds the workflow's whole input. The accepting process starts the workflow right after
the commit and deletes the entry; a sweeper claims what is left once `next_attempt_at` has passed.
A claim moves `next_attempt_at` on, so another sweeper does not take the entry while it is tried.
The input is encoded once: the row stores the very JSON the accepting process then starts the
workflow with (as a raw payload), so the accept path does not convert it twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Text, bindparam, cast, delete, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlmodel import col
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter

from dnsorch.contracts import ProvisioningInput, RequestStatus
from dnsorch.store.models import DnsRequest, RequestEvent, WorkflowStart
from dnsorch.store.request_rows import insert_request, request_values


@dataclass
class QueuedStart:
    request_id: str
    params: ProvisioningInput
    attempts: int
    payload: Payload | None = None
    """`params` as `encode` wrote them into the row, when the process that accepted it holds them."""


def encode(params: ProvisioningInput) -> Payload:
    """The input as Temporal's own JSON converter writes it (the converter every dnsorch client
    uses), so the row decodes to an equal value and the payload can be started as it is."""
    [payload] = PayloadConverter.default.to_payloads([params])
    return payload


def decode(stored: dict[str, object]) -> ProvisioningInput:
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(stored).encode())
    [params] = PayloadConverter.default.from_payloads([payload], [ProvisioningInput])
    assert isinstance(params, ProvisioningInput)
    return params


# Statements built once (each accept runs them): the payload's JSON text goes in as it is, for
# PostgreSQL to parse, so Python does not load and dump it again.
_INSERT = insert(WorkflowStart).values(input=cast(bindparam("input_json", type_=Text), JSONB))
_REMOVE = delete(WorkflowStart).where(col(WorkflowStart.request_id).in_(bindparam("ids", expanding=True)))


def insert_accepted(
    conn: Connection, params: ProvisioningInput, payload: Payload, grace: timedelta, task_queue: str
) -> bool:
    """The request's row and its queued start on `task_queue`, in the caller's transaction; False
    (and nothing written) when a row with its id exists already. `payload` is `encode(params)`."""
    spec = params.request
    assert spec.accepted_at is not None
    if not insert_request(conn, spec, spec.accepted_at):
        return False
    conn.execute(
        _INSERT,
        {
            "request_id": uuid.UUID(spec.request_id),
            "input_json": payload.data.decode(),
            "queued_at": spec.accepted_at,
            "next_attempt_at": spec.accepted_at + grace,
            "task_queue": task_queue,
        },
    )
    return True


def insert_accepted_many(
    conn: Connection, batch: Sequence[tuple[ProvisioningInput, Payload]], grace: timedelta, task_queue: str
) -> set[str]:
    """`insert_accepted` for several requests at once (the Kafka consumer's group commit), in three
    statements: the ids whose rows this call created. A request whose row exists already writes
    nothing; an id given twice is inserted once, for its first. Each payload is `encode(params)`."""
    firsts: dict[str, tuple[ProvisioningInput, Payload]] = {}
    for params, payload in batch:
        firsts.setdefault(params.request.request_id, (params, payload))
    rows = []
    for params, _payload in firsts.values():
        assert params.request.accepted_at is not None
        rows.append(request_values(params.request, params.request.accepted_at))
    if not rows:
        return set()
    new_rows = insert(DnsRequest).on_conflict_do_nothing().returning(col(DnsRequest.id))
    created = {str(found) for found in conn.execute(new_rows, rows).scalars()}
    if not created:
        return created
    events, starts = [], []
    for row in rows:
        if str(row["id"]) not in created:
            continue
        accepted_at = row["created_at"]
        events.append(
            {
                "request_id": row["id"],
                "sequence": 1,
                "status": RequestStatus.PENDING,
                "reason": row["log_messages"][0]["message"],
                "occurred_at": accepted_at,
            }
        )
        starts.append(
            {
                "request_id": row["id"],
                "input_json": firsts[str(row["id"])][1].data.decode(),
                "queued_at": accepted_at,
                "next_attempt_at": accepted_at + grace,
                "task_queue": task_queue,
            }
        )
    conn.execute(insert(RequestEvent), events)
    conn.execute(_INSERT, starts)
    return created


def queued(conn: Connection, request_id: str) -> QueuedStart | None:
    """The request's queued start, if it has one."""
    row = conn.execute(
        text("SELECT input, attempts FROM workflow_starts WHERE request_id = :id"),
        {"id": uuid.UUID(request_id)},
    ).first()
    return None if row is None else QueuedStart(request_id, decode(row[0]), row[1])


_CLAIM = text(
    """
    UPDATE workflow_starts
       SET next_attempt_at = now() + make_interval(secs => :lease)
     WHERE request_id IN (
           SELECT request_id FROM workflow_starts
            WHERE task_queue IN (:queue, '') AND next_attempt_at <= now()
            ORDER BY next_attempt_at
            LIMIT :limit
              FOR UPDATE SKIP LOCKED)
    RETURNING request_id, input, attempts
    """
)


def claim_due(conn: Connection, limit: int, lease: timedelta, task_queue: str) -> list[QueuedStart]:
    """Entries of `task_queue` (or of none) due now, at most `limit`; each is not due again for `lease`."""
    rows = conn.execute(_CLAIM, {"limit": limit, "lease": lease.total_seconds(), "queue": task_queue}).all()
    return [QueuedStart(str(row[0]), decode(row[1]), row[2]) for row in rows]


def record_failure(conn: Connection, request_id: str, error: str, retry_at: datetime) -> None:
    """A failed attempt: counted, its error kept for operators, tried again at `retry_at`."""
    conn.execute(
        text(
            "UPDATE workflow_starts SET attempts = attempts + 1, last_error = :error,"
            " next_attempt_at = :retry_at WHERE request_id = :id"
        ),
        {"error": error[:1000], "retry_at": retry_at, "id": uuid.UUID(request_id)},
    )


def remove(conn: Connection, request_ids: list[str]) -> None:
    """Their workflows started (or existed already): the entries are done."""
    conn.execute(_REMOVE, {"ids": [uuid.UUID(request_id) for request_id in request_ids]})
