"""Runs the schedule against the stack like real clients and operators, recording every call.

REST clients retry what a real client retries (a lost connection, 429, 5xx) with the same
Idempotency-Key on v2; a v1 create has no key, so it is retried only on an answer that says nothing
was stored (503). Kafka messages with their own request_id are re-sent after a producer error.
A person's changes by hand go to BIND as TSIG-signed UPDATEs (soak/hand.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from consumer.decode import derived_request_id
from dnsorch.store import make_engine
from soak import hand
from soak.clients import RETRYABLE, chosen_action, retrying
from soak.generator import Op
from soak.history import History
from soak.stack import SoakStack
from soak.timed import timed_body, utc_in

TOPIC = "dns_requests"
WAIT_FOR = 90.0
"""How long a story's step waits for the request it follows."""
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "REJECTED", "ROLLED_BACK"}


class Driver:
    def __init__(self, stack: SoakStack, history: History) -> None:
        assert stack.keys is not None
        self.stack = stack
        self.history = history
        self.request_ids: dict[int, str] = {}
        """Submit op index → the request id it got (a 2xx, or a Kafka message's id)."""
        self.planned: set[int] = set()
        self.submitted: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        """Submit op index → set once its submission was answered (or given up)."""
        self.accounts: dict[int, str] = {}
        """Submit op index → the account that sent it (an expiry is extended with the owner's key)."""
        self.clients = {account: self._client(key) for account, key in stack.keys.submitters.items()}
        self.operator = self._client(stack.keys.operator)
        self.producer: AIOKafkaProducer | None = None
        self.limit = asyncio.Semaphore(40)
        self.engine = make_engine(stack.database_url)
        """Read by hand changes only: what dnsorch keeps at a name just before a person changes it."""

    def _client(self, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    async def close(self) -> None:
        for client in [*self.clients.values(), self.operator]:
            await client.aclose()
        if self.producer is not None:
            await self.producer.stop()
        self.engine.dispose()

    async def run(self, ops: list[Op], started: float) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.stack.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all", request_timeout_ms=10_000
        )
        await self.producer.start()
        self.planned = {op.index for op in ops}
        tasks = []
        for op in ops:
            delay = started + op.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._run_op(op)))
        await asyncio.gather(*tasks)

    async def _run_op(self, op: Op) -> None:
        if "after" in op.params or "after_of" in op.params:
            await self._wait_before(op)
        async with self.limit:
            try:
                if op.kind == "submit":
                    try:
                        await self._submit(op)
                    finally:
                        self.submitted[op.index].set()
                elif op.kind in ("act", "status"):
                    await self._act_on(op)
                elif op.kind == "sweep":
                    await self._sweep(op)
                elif op.kind == "hand":
                    await self._hand(op)
                elif op.kind in ("reschedule", "extend"):
                    await self._move(op)
                elif op.kind == "freeze":
                    await self._freeze(op)
                elif op.kind in ("transfer", "grant"):
                    path = f"/api/v2/dns/names/{op.params['domain']}/{op.kind}"
                    await self._call(
                        self.operator, op, "POST", path, {"account_id": op.params["to"], "note": "soak"}
                    )
            except Exception as error:  # a bug of the soak itself: recorded, never silent
                self.history.record("driver_error", op=op.index, error=repr(error))

    # ---- HTTP ----------------------------------------------------------------------------------

    async def _call(
        self,
        client: httpx.AsyncClient,
        op: Op,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry: str = "none",
    ) -> httpx.Response | None:
        """One call (and its retries), each attempt recorded with its answer. `retry`: `all` (lost
        connections and 429/5xx) or `unstored` (503 only) or `none`."""
        call = {"op": op.index, "method": method, "path": path, "headers": headers, "body": body}

        async def once(attempt: int) -> tuple[httpx.Response | None, bool]:
            sent = self.history.now()
            try:
                response = await client.request(method, path, json=body, headers=headers)
            except httpx.TransportError as error:
                self.history.record("call", **call, attempt=attempt, sent=sent, error=type(error).__name__)
                return None, retry == "all"
            answer: Any
            try:
                answer = response.json()
            except ValueError:
                answer = response.text[:300]
            if method == "GET" and isinstance(answer, dict) and "items" in answer:  # a list: ids and statuses
                answer = {"items": [[i.get("request_id"), i.get("status")] for i in answer["items"]]}
            status = response.status_code
            self.history.record("call", **call, attempt=attempt, sent=sent, status=status, answer=answer)
            if retry == "all":
                return response, status in RETRYABLE
            return response, retry == "unstored" and status == 503

        return await retrying(once)

    async def _submit(self, op: Op) -> None:
        p = op.params
        client = self.clients[p["account"]]
        self.accounts[op.index] = p["account"]
        if p["door"] == "kafka":
            await self._produce(op)
            return
        if p["door"] == "v1":
            response = await self._call(client, op, "POST", "/api/v1/dns/create", p["body"], retry="unstored")
        else:
            headers = {"Idempotency-Key": p["key"]}
            body = timed_body(p)  # fixed once: a retry sends the same body
            response = await self._call(
                client, op, "POST", "/api/v2/dns/requests", body, headers, retry="all"
            )
        if response is not None and response.is_success:
            self.request_ids[op.index] = str(response.json()["request_id"])

    async def _produce(self, op: Op) -> None:
        assert self.producer is not None
        producer = self.producer
        p = op.params
        message = dict(p["body"])
        if p.get("request_id"):
            message["request_id"] = p["request_id"]
        value = json.dumps(message).encode()
        key = p["key"].encode()
        sent = {"op": op.index, "key": p["key"], "value": message}

        async def once(attempt: int) -> tuple[None, bool]:
            # The record's own create time, set here: a broker's answer may carry one timestamp for
            # a whole batch (Tansu), and the consumer derives the request id from each record's.
            created_ms = int(time.time() * 1000)
            try:
                meta = await producer.send_and_wait(TOPIC, value=value, key=key, timestamp_ms=created_ms)
            except Exception as error:
                self.history.record(
                    "produce",
                    **sent,
                    attempt=attempt,
                    request_id=p.get("request_id"),
                    error=repr(error)[:200],
                )
                return None, bool(p.get("request_id"))
            request_id = p.get("request_id") or derived_request_id(
                TOPIC, meta.partition, meta.offset, created_ms, key, value
            )
            self.request_ids[op.index] = request_id
            self.history.record(
                "produce",
                **sent,
                attempt=attempt,
                request_id=request_id,
                own_id=bool(p.get("request_id")),
                partition=meta.partition,
                offset=meta.offset,
                timestamp=created_ms,
            )
            return None, False

        await retrying(once, pause=1.0)

    # ---- time-aware operations (soak/timed.py) ------------------------------------------------

    async def _wait_before(self, op: Op) -> None:
        """A story's step that follows another: wait (up to WAIT_FOR) until the request of op
        `after` has ended, or until op `of` has its request id and then `after_of` seconds more."""
        deadline = time.monotonic() + WAIT_FOR
        p = op.params
        awaited = int(p["after"] if "after" in p else p["of"])
        if awaited not in self.planned:  # a shrunk schedule left it out: nothing to wait for
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.submitted[awaited].wait(), WAIT_FOR)
        request_id = self.request_ids.get(awaited)
        if "after_of" in p:
            await asyncio.sleep(p["after_of"])
            return
        status = None
        while request_id is not None and time.monotonic() < deadline:
            try:
                response = await self.operator.get(f"/api/v2/dns/requests/{request_id}")
                status = response.json().get("status") if response.is_success else None
            except (httpx.HTTPError, ValueError):
                status = None
            if status in FINAL:
                break
            await asyncio.sleep(0.5)
        self.history.record("waited", op=op.index, of=awaited, request_id=request_id, status=status)

    async def _move(self, op: Op) -> None:
        """Reschedule a scheduled request (operator), or extend an expiry (the owner's key)."""
        of = op.params["of"]
        request_id = self.request_ids.get(of)
        if request_id is None:
            self.history.record("skipped", op=op.index, reason=f"op {of} got no request id")
            return
        if op.kind == "reschedule":
            path, field = f"/api/v2/dns/requests/{request_id}/schedule", "not_before"
            client, ahead = self.operator, op.params["later"]
        else:
            path, field = f"/api/v2/dns/requests/{request_id}/expiry", "expires_at"
            client, ahead = self.clients[self.accounts[of]], op.params["expires_in"]
        body = {field: utc_in(ahead), "note": "soak"}
        await self._call(client, op, "POST", path, body)

    async def _freeze(self, op: Op) -> None:
        """A freeze window on the zone from now for `duration` seconds; ended early after `end_early`."""
        body = {"zone": op.params["zone"], "ends_at": utc_in(op.params["duration"]), "reason": "soak freeze"}
        response = await self._call(self.operator, op, "POST", "/api/v2/freezes", body, retry="none")
        early = op.params.get("end_early")
        if early is None or response is None or response.status_code != 201:
            return
        await asyncio.sleep(early)
        await self._call(self.operator, op, "DELETE", f"/api/v2/freezes/{response.json()['id']}", retry="all")

    async def _hand(self, op: Op) -> None:
        assert self.stack.bind is not None
        key_file, bind = Path(self.stack.env["TSIG_KEY_FILE"]), self.stack.bind
        await hand.change(op.index, op.params, self.engine, self.history, key_file, bind.host, bind.port)

    # ---- operators -----------------------------------------------------------------------------

    async def _act_on(self, op: Op) -> None:
        request_id = self.request_ids.get(op.params["of"])
        if request_id is None:
            self.history.record("skipped", op=op.index, reason=f"op {op.params['of']} got no request id")
            return
        await self._act(op, request_id, op.params.get("action"), op.params.get("status"))

    async def _act(self, op: Op, request_id: str, action: str | None, status: str | None) -> None:
        if status is not None:
            body = {"status": status, "message": "soak"}
            await self._call(self.operator, op, "POST", f"/api/v1/dns/update_status/{request_id}", body)
        else:
            path = f"/api/v2/dns/requests/{request_id}/actions/{action}"
            await self._call(self.operator, op, "POST", path, {"note": "soak"})

    async def _sweep(self, op: Op) -> None:
        """An operator looks at what waits for them and acts on one of them."""
        status = op.params["status"]
        response = await self._call(
            self.operator, op, "GET", f"/api/v2/dns/requests?status={status}&limit=50"
        )
        if response is None or not response.is_success:
            return
        items = response.json()["items"]
        if not items:
            return
        item = items[int(op.params["pick"] * len(items))]
        await self._act(op, str(item["request_id"]), chosen_action(status, op.params["choice"]), None)
