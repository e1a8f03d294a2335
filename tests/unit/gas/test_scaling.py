import pytest

from gas.scaling import Scaler, ScalingPolicy


def test_desired_follows_backlog_within_bounds() -> None:
    policy = ScalingPolicy(minimum=0, maximum=4, tasks_per_worker=2)
    assert policy.desired(0, 0) == 0
    assert policy.desired(1, 0) == 1
    assert policy.desired(3, 2) == 3
    assert policy.desired(200, 0) == 4
    assert ScalingPolicy(minimum=1, maximum=4).desired(0, 0) == 1


def test_scale_out_at_once_then_wait_for_the_cooldown() -> None:
    scaler = Scaler(ScalingPolicy(0, 4, 2, scale_out_cooldown=10, scale_in_cooldown=30))
    assert scaler.decide(0, backlog=3, in_progress=0, now=0) == 2
    assert scaler.decide(2, backlog=20, in_progress=2, now=5) == 2  # cooling down
    assert scaler.decide(2, backlog=20, in_progress=2, now=10) == 4


def test_scale_in_one_at_a_time_after_the_quiet_period() -> None:
    scaler = Scaler(ScalingPolicy(0, 4, 2, scale_out_cooldown=10, scale_in_cooldown=30))
    assert scaler.decide(0, 50, 0, now=0) == 4
    assert scaler.decide(4, 0, 0, now=20) == 4  # too soon after scaling out
    assert scaler.decide(4, 0, 0, now=30) == 3
    assert scaler.decide(3, 0, 0, now=45) == 3
    assert scaler.decide(3, 0, 0, now=60) == 2
    assert scaler.decide(2, 0, 0, now=90) == 1
    assert scaler.decide(1, 0, 0, now=120) == 0
    assert scaler.decide(0, 0, 0, now=500) == 0


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        ScalingPolicy(minimum=5, maximum=4)
    with pytest.raises(ValueError):
        ScalingPolicy(tasks_per_worker=0)
