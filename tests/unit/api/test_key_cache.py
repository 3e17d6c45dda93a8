"""The API's key cache on its own (api/security.py): bounded, hashed, off at 0 seconds."""

from __future__ import annotations

from api.security import KeyCache
from dnsorch.store import Principal, Role


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lasts_its_seconds_and_no_longer() -> None:
    clock = FakeClock()
    cache = KeyCache(5.0, clock=clock)
    principal = Principal("id1", "ci", "acct", Role.SUBMITTER)
    cache.put("key-1", principal)
    clock.now += 4.9
    assert cache.get("key-1") == principal
    clock.now += 0.1
    assert cache.get("key-1") is None


def test_the_cache_keeps_no_key_in_clear_and_drops_its_oldest_entry_when_full() -> None:
    clock = FakeClock()
    cache = KeyCache(5.0, max_entries=2, clock=clock)
    principals = {f"key-{i}": Principal(f"id{i}", "n", "acct", Role.SUBMITTER) for i in range(3)}
    for key, principal in principals.items():
        cache.put(key, principal)
    assert cache.get("key-0") is None
    assert cache.get("key-1") == principals["key-1"] and cache.get("key-2") == principals["key-2"]
    assert not any("key-" in slot for slot in cache._entries)
    assert KeyCache(0, clock=clock).get("key-1") is None
    nothing = KeyCache(0, clock=clock)
    nothing.put("key-1", principals["key-1"])
    assert nothing.get("key-1") is None
