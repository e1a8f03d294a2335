"""Exception classes map to stable error names, never to message text."""

import pytest
from botocore.exceptions import EndpointConnectionError

import annotator
from activities.base import (
    ActivityError,
    InvalidTaskInput,
    TaskCancelled,
    TransientError,
    error_name_of,
)
from activities.record_failure import readable_reason


@pytest.mark.parametrize(
    ("exc", "name"),
    [
        (annotator.MalformedVcf("Line 3: POS 'x' is not a whole number."), "MalformedVcf"),
        (annotator.TruncatedInput("cut short"), "TruncatedInput"),
        (annotator.UnsupportedVcfVersion("3.3"), "UnsupportedVcfVersion"),
        (TransientError("throttled"), "Worker.Transient"),
        (TaskCancelled("shutting down"), "Worker.Interrupted"),
        (InvalidTaskInput("bad"), "Activity.InvalidInput"),
        (ActivityError("no"), "Activity.Failed"),
        (EndpointConnectionError(endpoint_url="http://x"), "Worker.Transient"),
        (ZeroDivisionError("boom"), "Activity.Unexpected"),
    ],
)
def test_error_names(exc: Exception, name: str) -> None:
    assert error_name_of(exc) == name


def test_readable_reasons() -> None:
    assert readable_reason("MalformedVcf", "Line 3: bad POS") == "Line 3: bad POS"
    assert "stopped responding" in readable_reason("States.HeartbeatTimeout", "")
    assert "unexpected" in readable_reason("Activity.Unexpected", "KeyError: 'x'")
    assert readable_reason("X", '{"errorMessage": "inner"}') == "inner"
