"""`gas` itself: every area's commands are there, and bad settings are a usage error."""

from __future__ import annotations

EXPECTED = {
    "admin",
    "annotate",
    "cancel",
    "download",
    "login",
    "resubmit",
    "rm",
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
    result = run("admin", "jobs", env={"GAS_FREE_RETENTION_SECONDS": "soon"})
    assert result.exit_code == 2
    assert "GAS_FREE_RETENTION_SECONDS" in result.output


def test_the_operator_commands_are_under_admin(gas) -> None:
    assert set(gas.commands["admin"].commands) == {"submit", "jobs", "job"}


def test_the_researcher_commands_do_not_load_boto3() -> None:
    # A fresh interpreter: this one has imported boto3 for other tests.
    import subprocess
    import sys

    probe = (
        "import sys; from cli import main; sys.argv = ['gas', 'jobs', '--help']\n"
        "try:\n    main.main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'pynamodb')))"
    )
    shown = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert shown.stdout.strip().splitlines()[-1] == "[]"


def test_gas_starts_numpy_without_blas_threads() -> None:
    # OpenBLAS's idle threads spin for ~0.1 CPU s after numpy's import; gas uses no BLAS.
    import os
    import subprocess
    import sys

    probe = "import os, cli.main; print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    shown = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert shown.stdout.strip() == "1", shown.stderr
