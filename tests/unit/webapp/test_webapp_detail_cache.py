"""The job page's short cache in front of Step Functions' throttled read APIs."""

from __future__ import annotations

from types import SimpleNamespace

from webapp.annotations import DetailCache


def _job(status: str = "RUNNING", done: int = 0) -> SimpleNamespace:
    return SimpleNamespace(job_id="j", status=status, variants_done=done, attempts=1)


def test_a_detail_is_reused_within_its_lifetime() -> None:
    cache = DetailCache(ttl_seconds=60)
    cache.put(_job(), {"status": "RUNNING"})
    assert cache.get(_job()) == {"status": "RUNNING"}


def test_a_status_or_progress_change_reads_afresh() -> None:
    cache = DetailCache(ttl_seconds=60)
    cache.put(_job(), {"status": "RUNNING"})
    assert cache.get(_job(status="COMPLETED")) is None
    assert cache.get(_job(done=10)) is None


def test_entries_expire_and_the_cache_stays_bounded() -> None:
    expired = DetailCache(ttl_seconds=0)
    expired.put(_job(), {})
    assert expired.get(_job()) is None
    small = DetailCache(ttl_seconds=60, max_entries=2)
    for n in range(5):
        small.put(_job(done=n), {"n": n})
    assert len(small._entries) <= 2
