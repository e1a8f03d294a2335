"""Wait timestamps never end a wait early."""

from datetime import UTC, datetime

from gas.timestamps import for_wait


def test_a_timestamp_is_rounded_up_to_the_second_in_utc_with_a_z() -> None:
    assert for_wait(datetime(2026, 11, 27, 22, 0, 0, tzinfo=UTC)) == "2026-11-27T22:00:00Z"
    assert for_wait(datetime(2026, 11, 27, 22, 0, 59, 1, tzinfo=UTC)) == "2026-11-27T22:01:00Z"
