"""The API's blocking work has threads enough for a burst: requests do not queue behind each other."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from dnsorch.settings import Settings
from dnsorch.store import keys

OFFLINE = "postgresql+psycopg2://nobody@127.0.0.1:9/none"  # never reached: key checks are stubbed


@pytest.mark.parametrize("threads", [10, 24])
def test_as_many_key_checks_run_at_once_as_the_api_has_threads(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    # Every check waits until `threads` of them run at the same moment: on Python's default pool
    # (6 threads on 2 cores) the barrier never fills and the requests fail.
    barrier = threading.Barrier(threads, timeout=20)

    def check_key(engine: object, key: str) -> None:
        barrier.wait()
        return None  # an unknown key: 401

    monkeypatch.setattr(keys, "authenticate", check_key)
    settings = Settings(database_url=OFFLINE, api_threads=threads, temporal_address="127.0.0.1:9")
    with TestClient(create_app(settings)) as client, ThreadPoolExecutor(threads) as callers:
        headers = {"Authorization": "Bearer dnsorch_aaaaaaaaaaaaaaaa_bbbb"}
        responses = list(
            callers.map(lambda _: client.get("/api/v2/dns/requests", headers=headers), range(threads))
        )
    codes = [response.status_code for response in responses]
    assert codes == [401] * threads
