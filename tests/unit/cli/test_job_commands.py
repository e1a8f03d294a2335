"""`gas admin submit`, `gas admin jobs`, `gas admin job`: arguments refused before any call, and
what is printed.

The commands against a real deployment: tests/integration/test_thaw.py runs `gas admin job --json`
and `gas upgrade`; tests/integration/test_job_workflow.py submits through the same workflows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cli import job_commands
from gas import keys, models

WHEN = datetime(2026, 11, 27, 12, 30, 5, tzinfo=UTC)


def _job(**fields: object) -> models.Job:
    values: dict[str, object] = {
        "user_id": keys.new_id(),
        "input_key": "k",
        "input_filename": "calls.vcf",
        "status": models.COMPLETED,
        "submitted_at": WHEN,
    }
    values.update(fields)
    return models.Job(keys.new_id(), **values)


STEPS = [
    {
        "state": "Annotate",
        "status": "retried",
        "duration_seconds": 12.34,
        "attempts": 2,
        "error": "States.Timeout",
    },
    {
        "state": "WaitOutRetention",
        "status": "waiting",
        "duration_seconds": None,
        "attempts": 0,
        "error": None,
    },
]
INFO = {"execution_status": "RUNNING", "current_state": "WaitOutRetention", "timeline": STEPS}


def test_submit_refuses_a_missing_file_and_an_unknown_tier(run, tmp_path) -> None:
    missing = run("admin", "submit", str(tmp_path / "nope.vcf"), "--user", "a@example.org")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    vcf = tmp_path / "a.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n")
    gold = run("admin", "submit", str(vcf), "--user", "a@example.org", "--tier", "gold")
    assert gold.exit_code == 2 and "'gold' is not one of" in gold.output
    no_user = run("admin", "submit", str(vcf))
    assert no_user.exit_code == 2 and "--user" in no_user.output


def test_job_needs_an_id(run) -> None:
    assert run("admin", "job").exit_code == 2


def test_the_list_line_shows_id_status_time_and_file() -> None:
    job = _job()
    assert job_commands.job_line(job) == (
        f"{job.job_id}  COMPLETED   2026-11-27 12:30:05  calls.vcf"
    )


def test_the_record_is_json_with_times_as_iso_and_unset_ones_as_null() -> None:
    job = _job(completed_at=WHEN, variants_total=350, results={"annotated": "r/a.vcf"})
    record = json.loads(json.dumps(job_commands.job_record(job, INFO), default=str))
    assert record["submitted_at"] == "2026-11-27T12:30:05+00:00"
    assert record["completed_at"] == record["submitted_at"]
    assert record["archived_at"] is None and record["restored_at"] is None
    assert record["variants"] == 350 and record["results"] == {"annotated": "r/a.vcf"}
    assert record["current_state"] == "WaitOutRetention"
    assert [s["state"] for s in record["timeline"]] == ["Annotate", "WaitOutRetention"]


def test_the_lines_for_people_skip_unset_fields_and_show_retries_and_errors() -> None:
    lines = job_commands.job_lines(job_commands.job_record(_job(build="GRCh38"), INFO))
    assert "build             GRCh38" in lines
    assert not any(line.startswith(("failure", "archived_at")) for line in lines)
    annotate, waiting = lines[lines.index("timeline:") + 1 :]
    assert "12.3s" in annotate and "attempts=2" in annotate and "error=States.Timeout" in annotate
    assert waiting.split() == ["WaitOutRetention", "waiting", "…"]
