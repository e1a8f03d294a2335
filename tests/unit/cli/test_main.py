"""`gas` itself: every area's commands are there, and bad settings are a usage error."""

from __future__ import annotations

EXPECTED = {
    "annotate",
    "deploy",
    "destroy",
    "fleet",
    "job",
    "jobs",
    "local",
    "metrics",
    "reference",
    "submit",
    "up",
    "upgrade",
    "worker",
}


def test_every_area_registers_its_commands(gas) -> None:
    assert set(gas.commands) >= EXPECTED


def test_help_lists_the_commands(run) -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in ("submit", "upgrade", "deploy"):
        assert f"  {name}" in result.output


def test_a_bad_setting_is_a_usage_error_that_names_it(run) -> None:
    result = run("jobs", env={"GAS_FREE_RETENTION_SECONDS": "soon"})
    assert result.exit_code == 2
    assert "GAS_FREE_RETENTION_SECONDS" in result.output
