"""The response store's bounds, one contract on both backends: time, count and bytes, per caller and in total."""

from __future__ import annotations

import time

import pytest

from services.store.responses import MemoryResponses, ResponseBounds, encoded

WIDE = dict(seconds=60, max=1000, max_bytes=10**6, caller_max=100, caller_max_bytes=10**6)


@pytest.fixture(params=["memory", "redis"])
def make_store(request):
    """Build a store with some bounds on each backend."""
    def build(**bounds):
        b = ResponseBounds(**{**WIDE, **bounds})
        if request.param == "memory":
            return MemoryResponses(b)
        from services.store.redis import connect
        from services.store.redis_responses import RedisResponses
        return RedisResponses(connect(request.getfixturevalue("redis_url")), b)
    return build


def value(size: int) -> dict:
    """A stored value whose encoding is exactly `size` bytes."""
    base = len(encoded({"messages": ""}))
    return {"messages": "é" * ((size - base) // 2) + "x" * ((size - base) % 2)}


def kept(store, caller: str, ids) -> list[str]:
    return [i for i in ids if store.get(caller, i) is not None]


def test_a_value_is_found_only_by_its_caller(make_store):
    store = make_store()
    assert store.put("alice", "resp_1", {"messages": [{"role": "user", "content": "hi"}]})
    assert store.get("alice", "resp_1") == {"messages": [{"role": "user", "content": "hi"}]}
    assert store.get("bob", "resp_1") is None and store.get("alice", "resp_2") is None


def test_past_its_count_a_callers_oldest_go_and_other_callers_keep_theirs(make_store):
    store = make_store(caller_max=3, max=10)
    store.put("bob", "resp_bob", value(100))
    ids = [f"resp_{i}" for i in range(200)]   # one caller's flood of tiny requests
    for i in ids:
        assert store.put("alice", i, value(50))
    assert kept(store, "alice", ids) == ids[-3:]
    assert store.get("bob", "resp_bob") == value(100)


def test_past_its_bytes_a_callers_oldest_go(make_store):
    store = make_store(caller_max_bytes=1000)
    for i in range(3):
        assert store.put("alice", f"resp_{i}", value(400))
    assert kept(store, "alice", ["resp_0", "resp_1", "resp_2"]) == ["resp_1", "resp_2"]


def test_a_value_larger_than_a_bound_is_not_kept_and_evicts_nothing(make_store):
    store = make_store(caller_max_bytes=1000, max_bytes=5000)
    assert store.put("alice", "resp_small", value(400))
    assert not store.put("alice", "resp_big", value(1001))
    assert store.get("alice", "resp_big") is None and store.get("alice", "resp_small") == value(400)
    assert store.put("alice", "resp_edge", value(1000)) and store.get("alice", "resp_small") is None


def test_past_the_total_bounds_the_oldest_of_all_go(make_store):
    store = make_store(max=3, max_bytes=1000, caller_max_bytes=800)
    store.put("alice", "resp_a", value(600))
    store.put("bob", "resp_b", value(300))
    store.put("carol", "resp_c", value(300))   # 1,200 bytes: alice's, the oldest, goes
    assert store.get("alice", "resp_a") is None
    assert store.get("bob", "resp_b") and store.get("carol", "resp_c")
    store.put("dave", "resp_d", value(10))
    store.put("erin", "resp_e", value(10))     # four values: bob's, now the oldest, goes
    assert store.get("bob", "resp_b") is None and kept(store, "carol", ["resp_c"]) == ["resp_c"]


def test_storing_an_id_again_replaces_it_and_counts_once(make_store):
    store = make_store(caller_max=2, caller_max_bytes=1000)
    store.put("alice", "resp_1", value(400))
    store.put("alice", "resp_1", value(500))
    store.put("alice", "resp_2", value(500))
    assert store.get("alice", "resp_1") == value(500) and store.get("alice", "resp_2") == value(500)


def test_values_expire_and_free_their_room(make_store):
    store = make_store(seconds=0.3, caller_max=2)
    store.put("alice", "resp_1", value(100))
    store.put("alice", "resp_2", value(100))
    deadline = time.monotonic() + 5
    while store.get("alice", "resp_1") is not None and time.monotonic() < deadline:
        time.sleep(0.05)   # expiry is a clock's doing: there is no event to wait on
    assert store.get("alice", "resp_1") is None and store.get("alice", "resp_2") is None
    store.put("alice", "resp_3", value(100))
    store.put("alice", "resp_4", value(100))
    assert kept(store, "alice", ["resp_3", "resp_4"]) == ["resp_3", "resp_4"]
