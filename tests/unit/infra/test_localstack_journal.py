"""The local cloud's journal on plain files: write, replay, delete, and what a crash leaves."""

from __future__ import annotations

import datetime
import io
import os
from pathlib import Path

import pytest

from infra.localstack_state.journal import Journal, loads

ARN = "arn:aws:states:us-east-1:000000000000:execution:gas-annotation-job:job-1"
MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:gas-annotation-job"
WHEN = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal.at(tmp_path / "localstack-state")


def meta(size: int, **extra: object) -> dict[str, object]:
    return {"size": size, "storage_class": "STANDARD", "last_modified": WHEN, **extra}


def test_an_object_reads_back_with_its_bytes_and_metadata(journal: Journal) -> None:
    body = os.urandom(3 * 1024 * 1024 + 7)  # more than one copy chunk
    journal.s3.put("gas-results", "u/j/out.vcf", meta(len(body)), io.BytesIO(body))
    journal.s3.put("gas-results", "u/j/log", meta(3, storage_class="GLACIER"), b"log")
    [log, vcf] = sorted(journal.s3.objects("gas-results"), key=lambda o: o.key)
    assert vcf.key == "u/j/out.vcf" and vcf.read() == body
    assert vcf.meta["last_modified"] == WHEN
    assert log.meta["storage_class"] == "GLACIER" and log.read() == b"log"
    assert journal.stats()["objects"] == 2 and journal.stats()["buckets"] == 1


def test_a_rewrite_replaces_and_a_delete_forgets(journal: Journal) -> None:
    journal.s3.put("b", "k", meta(3), b"old")
    journal.s3.put("b", "k", meta(3, storage_class="GLACIER"), b"new")
    [only] = journal.s3.objects("b")
    assert only.read() == b"new" and only.meta["storage_class"] == "GLACIER"
    assert journal.s3.delete("b", "k") is True
    assert list(journal.s3.objects("b")) == []
    assert journal.s3.delete("b", "k") is False


def test_a_dropped_bucket_is_gone_and_others_stay(journal: Journal) -> None:
    journal.s3.put("a", "k", meta(1), b"1")
    journal.s3.put("b", "k", meta(1), b"2")
    journal.s3.drop_bucket("a")
    assert journal.s3.buckets() == ["b"]
    assert list(journal.s3.objects("a")) == []
    assert [o.read() for o in journal.s3.objects("b")] == [b"2"]


def test_what_a_crash_leaves_is_never_read_and_is_swept(journal: Journal) -> None:
    journal.s3.put("b", "kept", meta(4), b"kept")
    folder = journal.s3.root / "b"
    # A write killed before its rename: even a complete-looking temporary file is not a record.
    (folder / ".tmp-abc.obj-123").write_bytes(b'GASJ1\n{"key":"torn","size":2}\nxx')
    # A record cut short (not produced by put, which renames only whole files): skipped too.
    (folder / "cut.obj").write_bytes(b'GASJ1\n{"key":"cut","size":99}\nxx')
    (folder / "junk.obj").write_bytes(b"not a record")
    # A bucket drop killed after its rename.
    (journal.s3.root / ".dropped-old-1").mkdir()
    assert [o.key for o in journal.s3.objects("b")] == ["kept"]
    assert journal.s3.buckets() == ["b"]
    assert journal.s3.sweep() == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [next(journal.s3.objects("b")).path.name, "cut.obj", "junk.obj"]
    )


def test_a_failed_write_leaves_the_old_record_whole(journal: Journal) -> None:
    journal.s3.put("b", "k", meta(3), b"old")

    class Broken(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        journal.s3.put("b", "k", meta(3), Broken())
    assert [o.read() for o in journal.s3.objects("b")] == [b"old"]
    assert [p.name for p in (journal.s3.root / "b").iterdir() if p.name.startswith(".")] == []


def test_an_ended_execution_reads_back_and_lists(journal: Journal) -> None:
    describe = {"executionArn": ARN, "status": "SUCCEEDED", "startDate": WHEN, "stopDate": WHEN}
    history = [{"id": 1, "type": "ExecutionStarted", "timestamp": WHEN}]
    item = {"executionArn": ARN, "status": "SUCCEEDED", "startDate": WHEN}
    assert journal.executions.record(ARN, describe, history, item) is True
    found = journal.executions.get(ARN)
    assert found == {"describe": describe, "history": history, "list_item": item}
    assert journal.executions.list_items(MACHINE, "SUCCEEDED") == [item]
    assert journal.executions.list_items(MACHINE, "FAILED") == []
    assert journal.executions.exists(ARN)
    journal.executions.drop_state_machine(MACHINE)
    assert journal.executions.get(ARN) is None


def test_a_running_execution_is_never_journaled(journal: Journal) -> None:
    running = {"executionArn": ARN, "status": "RUNNING", "startDate": WHEN}
    assert journal.executions.record(ARN, running, [], running) is False
    assert journal.executions.get(ARN) is None and journal.stats()["executions"] == 0


def test_datetimes_keep_their_time_zone() -> None:
    from infra.localstack_state.journal import dumps

    assert loads(dumps({"at": WHEN, "raw": b"\x00\xff"})) == {"at": WHEN, "raw": b"\x00\xff"}
