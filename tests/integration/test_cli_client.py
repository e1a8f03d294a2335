"""The researcher's `gas` commands against a real dashboard, real workers and the local cloud.

Each command runs as its own process (``python -m cli.main``), as a researcher's shell would run
it, with only ``XDG_CONFIG_HOME`` to find the login and none of the operator's GAS_* settings. The
JSON the commands print is validated against the OpenAPI document the dashboard serves.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gas import keys, models
from gas.settings import Settings
from tests.cloud import free_port
from tests.inputs import small_vcf
from tests.integration.processes import wait_for
from workflows import tokens, users

pytestmark = pytest.mark.integration

DOCUMENT_URI = "urn:gas:openapi"


@pytest.fixture(scope="module")
def dashboard(settings: Settings, tmp_path_factory) -> Iterator[str]:
    """``python -m webapp`` on a free loopback port; yields its base URL."""
    port = free_port()
    web = replace(settings, web_port=port, base_url=f"http://127.0.0.1:{port}")
    log = (tmp_path_factory.mktemp("dashboard") / "dashboard.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own dashboard
        [sys.executable, "-m", "webapp"],
        env=web.subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def serving() -> bool:
        assert proc.poll() is None, f"the dashboard exited: {Path(log.name).read_text()[-2000:]}"
        try:
            return requests.get(f"{web.base_url}/api/v1/openapi.json", timeout=2).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(serving, 60, what="the dashboard to answer")
        yield web.base_url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def document(dashboard: str) -> dict[str, Any]:
    return requests.get(f"{dashboard}/api/v1/openapi.json", timeout=10).json()


def assert_valid(document: dict[str, Any], schema: str, value: Any) -> None:
    """``value`` (what a command printed) validates against the served document's ``schema``."""
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/schemas/{schema}"},
        registry=registry,
        format_checker=FormatChecker(),
    )
    errors = sorted(validator.iter_errors(value), key=str)
    assert not errors, f"{schema}: {errors[0].message}"


@pytest.fixture
def researcher(settings: Settings) -> tuple[models.User, str]:
    """A user and a read-write token, made the way the profile page makes them."""
    user = users.ensure_user(settings, f"{keys.new_id()[:8]}@example.org", models.FREE)
    secret, _ = tokens.create(settings, user, name="laptop", scope=models.READ_WRITE)
    return user, secret


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "config"


def gas(config_home: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.Popen:
    """``gas ARGS`` in a fresh process with the researcher's environment (no GAS_* settings)."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(config_home.parent),
        "XDG_CONFIG_HOME": str(config_home),
        # Which checkout's code runs (a worktree's, when the tests run from one).
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own CLI, as a researcher runs it
        [sys.executable, "-m", "cli.main", *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=config_home.parent,
    )


def logged_in(config_home: Path, dashboard: str, secret: str) -> None:
    done = gas(config_home, "login", dashboard, "--token-stdin", stdin=secret + "\n")
    assert done.returncode == 0, done.stderr


def test_login_keeps_the_token_private_and_a_bad_token_is_one_line(
    dashboard: str, researcher, config_home: Path
) -> None:
    user, secret = researcher
    done = gas(config_home, "login", dashboard + "/", "--token-stdin", stdin=secret + "\n")
    assert done.returncode == 0, done.stderr
    assert f"Logged in to {dashboard} as {user.email} (token 'laptop', read-write)" in done.stdout
    path = config_home / "gas" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"url": dashboard, "token": secret}
    me = gas(config_home, "jobs", "--json")
    assert me.returncode == 0 and json.loads(me.stdout) == []

    # A token the dashboard does not know: one clear line, exit code 1, no traceback.
    bogus = "gas_pat_" + "x" * 43
    refused = gas(config_home, "jobs", GAS_TOKEN=bogus)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "Error: Unauthorized: The token was refused: unknown or revoked token."
    ], refused.stderr
    # Nor is a bad token kept by a new login: the good one stays.
    again = gas(config_home, "login", dashboard, "--token-stdin", stdin=bogus + "\n")
    assert again.returncode == 1 and again.stderr.startswith("Error: Unauthorized:")
    assert json.loads(path.read_text())["token"] == secret


def test_cancel_resubmit_and_rm_of_queued_jobs(
    dashboard: str, researcher, config_home: Path, tmp_path: Path, document
) -> None:
    # No workers yet in this module: the jobs stay PENDING, so cancel has something to stop.
    _, secret = researcher
    logged_in(config_home, dashboard, secret)
    vcf = tmp_path / "queued.vcf"
    vcf.write_bytes(small_vcf(10))
    submitted = gas(config_home, "submit", str(vcf), "--json")
    assert submitted.returncode == 0, submitted.stderr
    (job,) = json.loads(submitted.stdout)
    assert_valid(document, "Job", job)
    assert job["status"] == models.PENDING and job["input_filename"] == "queued.vcf"

    refused = gas(config_home, "rm", job["id"])
    assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith("Error: Conflict:"), refused.stderr

    cancelled = gas(config_home, "cancel", job["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.split() == [job["id"], models.CANCELLED]

    again = gas(config_home, "resubmit", job["id"], "--json")
    assert again.returncode == 0, again.stderr
    new = json.loads(again.stdout)
    assert_valid(document, "Job", new)
    assert new["id"] != job["id"] and new["resubmitted_from"] == job["id"]
    assert json.loads(gas(config_home, "cancel", new["id"], "--json").stdout)["status"] == (
        models.CANCELLED
    )

    for job_id in (job["id"], new["id"]):
        removed = gas(config_home, "rm", job_id, "--json")
        assert removed.returncode == 0, removed.stderr
        assert json.loads(removed.stdout) == {"id": job_id, "deleted": True}
    gone = gas(config_home, "job", job["id"])
    assert gone.returncode == 1 and gone.stderr.strip() == "Error: Not Found: No such job."
    assert json.loads(gas(config_home, "jobs", "--json").stdout) == []


def test_submit_three_files_wait_list_show_and_download(
    dashboard: str, researcher, config_home: Path, tmp_path: Path, workers: None, document
) -> None:
    _, secret = researcher
    logged_in(config_home, dashboard, secret)
    files = []
    for i, variants in enumerate((20, 40, 60), start=1):
        path = tmp_path / f"sample{i}.vcf"
        path.write_bytes(small_vcf(variants))
        files.append(path)

    submitted = gas(config_home, "submit", *map(str, files), "--wait", "--interval", "1", "--json")
    assert submitted.returncode == 0, submitted.stderr
    jobs = json.loads(submitted.stdout)
    for job, path, variants in zip(jobs, files, (20, 40, 60), strict=True):
        assert_valid(document, "JobDetail", job)
        assert job["input_filename"] == path.name
        assert job["status"] == models.COMPLETED, job["failure_reason"]
        assert job["variants_total"] == variants
        assert job["results"] == ["annotated", "log", "summary"]
    ids = [job["id"] for job in jobs]
    assert len(set(ids)) == 3

    listed = gas(config_home, "jobs", "--json", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert len(page) == 2
    everything = json.loads(gas(config_home, "jobs", "--json").stdout)
    assert sorted(job["id"] for job in everything) == sorted(ids)
    for job in everything:
        assert_valid(document, "Job", job)
    for_people = gas(config_home, "jobs", "--status", models.COMPLETED).stdout.splitlines()
    assert sorted(line.split()[0] for line in for_people) == sorted(ids)

    shown = gas(config_home, "job", ids[0], "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert_valid(document, "JobDetail", detail)
    assert detail["execution"]["timeline"][1]["state"] == "Annotate"
    assert "status            COMPLETED" in gas(config_home, "job", ids[0]).stdout

    # A second process with the same config folder: the login is found, the bytes are the API's.
    auth = {"Authorization": f"Bearer {secret}"}
    for kind in ("annotated", "log", "summary", "input"):
        link = requests.get(
            f"{dashboard}/api/v1/jobs/{ids[2]}/downloads/{kind}", headers=auth, timeout=10
        ).json()["url"]
        expected = requests.get(link, timeout=30).content
        target = tmp_path / "downloads" / kind
        target.parent.mkdir(exist_ok=True)
        fetched = gas(config_home, "download", ids[2], "--kind", kind, "-o", str(target), "--json")
        assert fetched.returncode == 0, fetched.stderr
        assert json.loads(fetched.stdout) == {
            "id": ids[2],
            "kind": kind,
            "path": str(target),
            "bytes": len(expected),
        }
        assert target.read_bytes() == expected and expected
    assert (tmp_path / "downloads" / "input").read_bytes() == small_vcf(60)

    # Without -o: the name the service offers, in the current folder.
    default = gas(config_home, "download", ids[0])
    assert default.returncode == 0, default.stderr
    name, size = default.stdout.split()[:2]
    assert name == "sample1.annotated.vcf"
    assert (config_home.parent / name).stat().st_size == int(size) > 0

    removed = gas(config_home, "rm", ids[0])
    assert removed.returncode == 0 and removed.stdout.split() == [ids[0], "deleted"]
    assert gas(config_home, "job", ids[0]).returncode == 1


def test_a_refused_file_and_a_failed_job_make_submit_exit_non_zero(
    dashboard: str, researcher, config_home: Path, tmp_path: Path, workers: None
) -> None:
    _, secret = researcher
    logged_in(config_home, dashboard, secret)
    good, text, broken = tmp_path / "good.vcf", tmp_path / "notes.vcf", tmp_path / "broken.vcf"
    good.write_bytes(small_vcf(10))
    text.write_text("these are my notes, not variants\n")
    broken.write_bytes(b"##fileformat=VCFv4.2\n#CHROM\tPOS\nMT\tnot-a-position\n")
    done = gas(
        config_home, "submit", str(good), str(text), str(broken), "--wait", "--interval", "1"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    # The refused file is one line on stderr (beside the progress bars' labels); the other
    # files' jobs went ahead.
    assert [line for line in done.stderr.splitlines() if "Error" in line] == [
        f"Error: {text}: Upload refused: notes.vcf is not a VCF file: it does not start with a "
        "##fileformat=VCF line."
    ]
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines[:2]] == ["good.vcf", "broken.vcf"]
    ended = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert ended == {
        lines[0].split()[0]: models.COMPLETED,
        lines[1].split()[0]: models.FAILED,
    }


def test_a_file_whose_name_is_not_ascii_is_submitted_and_downloaded_under_its_name(
    dashboard: str, researcher, config_home: Path, tmp_path: Path, workers: None
) -> None:
    _, secret = researcher
    logged_in(config_home, dashboard, secret)
    path = tmp_path / "ünï名.vcf"
    path.write_bytes(small_vcf(10))
    done = gas(config_home, "submit", str(path), "--wait", "--interval", "1", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    (job,) = json.loads(done.stdout)
    assert job["input_filename"] == "ünï名.vcf"
    assert job["status"] == models.COMPLETED, job["failure_reason"]
    assert job["id"] in gas(config_home, "jobs").stdout
    # The name the service offers (RFC 6266's filename*), in the current folder.
    fetched = gas(config_home, "download", job["id"])
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.split()[0] == "ünï名.annotated.vcf"
    assert (config_home.parent / "ünï名.annotated.vcf").stat().st_size > 0
    original = gas(config_home, "download", job["id"], "--kind", "input")
    assert original.returncode == 0, original.stderr
    assert (config_home.parent / "ünï名.vcf").read_bytes() == small_vcf(10)
