"""The variant browser's byte-bounded LRU of derived indexes."""

from __future__ import annotations

import threading
import time

from workflows.results import ByteLRU


def test_it_keeps_what_fits_and_drops_the_least_recently_used() -> None:
    cache = ByteLRU(100)
    made: list[str] = []

    def maker(key: str, size: int):
        def make():
            made.append(key)
            return key.upper(), size

        return make

    assert cache.get("a", maker("a", 40)) == "A"
    assert cache.get("b", maker("b", 40)) == "B"
    assert cache.get("a", maker("a", 40)) == "A"  # kept; now the most recently used
    assert cache.get("c", maker("c", 40)) == "C"  # 120 > 100: "b" goes
    assert cache.used == 80
    cache.get("a", maker("a", 40))
    cache.get("b", maker("b", 40))
    assert made == ["a", "b", "c", "b"]


def test_a_value_bigger_than_the_budget_is_returned_but_not_kept() -> None:
    cache = ByteLRU(10)
    assert cache.get("big", lambda: ("x", 11)) == "x"
    assert cache.used == 0


def test_a_value_is_made_once_when_threads_ask_together() -> None:
    cache = ByteLRU(100)
    calls = []

    def make():
        calls.append(1)
        time.sleep(0.05)
        return "v", 1

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", make))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["v"] * 8 and len(calls) == 1
