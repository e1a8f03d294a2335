"""Wait timestamps never end a wait early."""

from datetime import UTC, datetime, timedelta

from gas.timestamps import archive_waits, for_wait


def test_a_timestamp_is_rounded_up_to_the_second_in_utc_with_a_z() -> None:
    assert for_wait(datetime(2026, 11, 27, 22, 0, 0, tzinfo=UTC)) == "2026-11-27T22:00:00Z"
    assert for_wait(datetime(2026, 11, 27, 22, 0, 59, 1, tzinfo=UTC)) == "2026-11-27T22:01:00Z"


ARCHIVE = datetime(2026, 11, 27, 22, 5, 0, tzinfo=UTC)
BEFORE = datetime(2026, 11, 27, 22, 0, 0, tzinfo=UTC)


def test_the_warning_comes_its_lead_time_before_the_archive() -> None:
    waits = archive_waits(ARCHIVE, 60, BEFORE)
    assert waits == {
        "archive_at": "2026-11-27T22:05:00Z",
        "archive_warning_at": "2026-11-27T22:04:00Z",
    }


def test_no_warning_when_its_time_has_passed_none_is_configured_or_one_was_sent() -> None:
    # A retention shorter than the lead time, or a job resumed after the warning's time.
    assert archive_waits(ARCHIVE, 600, BEFORE)["archive_warning_at"] is None
    assert archive_waits(ARCHIVE, 60, ARCHIVE - timedelta(seconds=30))["archive_warning_at"] is None
    assert archive_waits(ARCHIVE, 0, BEFORE)["archive_warning_at"] is None
    sent = archive_waits(ARCHIVE, 60, BEFORE, warned=True)
    assert sent == {"archive_at": "2026-11-27T22:05:00Z", "archive_warning_at": None}


def test_the_warning_time_is_rounded_up_like_every_wait() -> None:
    odd = ARCHIVE + timedelta(microseconds=400)
    waits = archive_waits(odd, 60, BEFORE)
    assert waits == {
        "archive_at": "2026-11-27T22:05:01Z",
        "archive_warning_at": "2026-11-27T22:04:01Z",
    }
