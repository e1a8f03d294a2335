"""The researcher's commands: credentials kept private, arguments refused before any request, one
line per error, and what is printed. Against a real dashboard: tests/integration/test_cli_client.py.
"""

from __future__ import annotations

import json
import stat

import pytest
import requests

from cli import api_client, client_commands

JOB = {
    "id": "0b0c5a3e-job",
    "status": "COMPLETED",
    "input_filename": "calls.vcf",
    "build": "GRCh38",
    "requested_build": "auto",
    "submitted_at": "2026-11-27T12:30:05.123456+00:00",
    "completed_at": "2026-11-27T12:31:00+00:00",
    "cancelled_at": None,
    "archive_at": None,
    "archived_at": None,
    "variants_done": 60,
    "variants_total": 60,
    "failure_reason": None,
    "results": ["annotated", "log", "summary"],
    "resubmitted_from": None,
    "queue_position": None,
    "execution": {
        "timeline": [
            {"state": "Annotate", "status": "succeeded", "duration_seconds": 2.04, "error": None},
            {"state": "Notify", "status": "failed", "duration_seconds": None, "error": "Boom"},
        ]
    },
}


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://gas.example.org", "https://gas.example.org"),
        ("https://gas.example.org/", "https://gas.example.org"),
        ("http://127.0.0.1:5000/api/v1/", "http://127.0.0.1:5000"),
    ],
)
def test_the_url_is_kept_without_the_api_path(given: str, kept: str) -> None:
    assert api_client.normalize_url(given) == kept


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(api_client.ClientError, match="not an http"):
        api_client.normalize_url("gas.example.org")


def test_credentials_are_readable_by_the_user_only(tmp_path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    (tmp_path / "config" / "gas").mkdir(parents=True, mode=0o755)
    path = api_client.save_credentials(api_client.Credentials("https://a", "gas_pat_1"), env)
    assert path == tmp_path / "config" / "gas" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"url": "https://a", "token": "gas_pat_1"}
    # Saved again (a new login): replaced, still private, no temporary file left behind.
    api_client.save_credentials(api_client.Credentials("https://b", "gas_pat_2"), env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]
    assert api_client.load_credentials(env) == api_client.Credentials("https://b", "gas_pat_2")


def test_the_environment_overrides_the_saved_credentials(tmp_path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    api_client.save_credentials(api_client.Credentials("https://a", "gas_pat_1"), env)
    over = {**env, "GAS_API_URL": "https://b/api/v1", "GAS_TOKEN": "gas_pat_2"}
    assert api_client.load_credentials(over) == api_client.Credentials("https://b", "gas_pat_2")
    assert api_client.load_credentials({**env, "GAS_TOKEN": "t"}).url == "https://a"


def test_without_credentials_the_message_says_to_log_in(tmp_path) -> None:
    with pytest.raises(api_client.NotLoggedIn, match="gas login URL"):
        api_client.load_credentials({"XDG_CONFIG_HOME": str(tmp_path)})


def test_the_default_folder_is_dot_config(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert api_client.config_dir({}) == tmp_path / ".config" / "gas"


def _response(status: int, body: bytes, content_type: str, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    response.headers.update({"Content-Type": content_type, **headers})
    response.url, response.reason = "https://gas.example.org/api/v1/jobs/x?sig=1", "Whatever"
    return response


def test_a_problem_is_its_title_and_detail() -> None:
    body = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "Refused."}
    answer = _response(401, json.dumps(body).encode(), "application/problem+json")
    assert api_client.problem_message(answer) == "Unauthorized: Refused."
    html = _response(502, b"<html>bad gateway</html>", "text/html")
    assert api_client.problem_message(html).startswith("HTTP 502 Whatever from https://gas")


def test_an_s3_error_is_its_code_and_message() -> None:
    xml = b"<Error><Code>EntityTooLarge</Code><Message>Too big</Message></Error>"
    assert (
        api_client.s3_message(_response(400, xml, "application/xml")) == "EntityTooLarge: Too big"
    )


def test_the_download_name_is_the_offered_one_or_the_urls_last_segment() -> None:
    offered = _response(
        200, b"", "text/plain", **{"Content-Disposition": 'attachment; filename="calls.log"'}
    )
    assert api_client.download_name(offered) == "calls.log"
    assert api_client.download_name(_response(200, b"", "text/plain")) == "x"
    sneaky = _response(200, b"", "x", **{"Content-Disposition": 'filename="../../.bashrc"'})
    assert api_client.download_name(sneaky) == "bashrc"  # no path, and never a hidden file


def test_the_download_name_reads_rfc_6266_filename_star_first() -> None:
    header = (
        'attachment; filename="uni_.annotated.vcf"; '
        "filename*=UTF-8''%C3%BCn%C3%AF%E5%90%8D.annotated.vcf"
    )
    offered = _response(200, b"", "text/plain", **{"Content-Disposition": header})
    assert api_client.download_name(offered) == "ünï名.annotated.vcf"
    sneaky = "attachment; filename*=UTF-8''..%2F..%2F.profile"
    assert api_client.download_name(
        _response(200, b"", "x", **{"Content-Disposition": sneaky})
    ) == ("profile")


def test_the_list_line_shows_id_status_time_and_file() -> None:
    assert client_commands.job_line(JOB) == (
        "0b0c5a3e-job  COMPLETED   2026-11-27 12:30:05  calls.vcf"
    )


def test_the_job_for_people_skips_unset_fields_and_shows_the_steps() -> None:
    lines = client_commands.job_lines(JOB)
    assert "variants          60/60" in lines
    assert "results           annotated, log, summary" in lines
    assert not any(line.startswith(("failure", "cancelled", "queue")) for line in lines)
    annotate, notify = lines[lines.index("timeline:") + 1 :]
    assert annotate.split() == ["Annotate", "succeeded", "2.0s"]
    assert notify.split() == ["Notify", "failed", "…", "error=Boom"]


@pytest.fixture
def client_run(run, tmp_path):
    """``gas ARGS`` with an empty config folder and no API variables."""
    return lambda *args, **env: run(
        *args, env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "GAS_TOKEN": "", **env}
    )


@pytest.mark.parametrize(
    "args", [("jobs",), ("job", "x"), ("download", "x"), ("cancel", "x"), ("rm", "x")]
)
def test_without_a_login_each_command_says_so_in_one_line(client_run, args) -> None:
    result = client_run(*args)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: not logged in: run `gas login URL` (or set GAS_API_URL and GAS_TOKEN)"
    ]


def test_arguments_are_refused_before_any_request(client_run, tmp_path) -> None:
    assert client_run("submit").exit_code == 2
    missing = client_run("submit", str(tmp_path / "nope.vcf"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    vcf = tmp_path / "a.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n")
    assert "'hg19' is not one of" in client_run("submit", str(vcf), "--build", "hg19").output
    assert client_run("download", "x", "--kind", "secrets").exit_code == 2
    assert client_run("jobs", "--status", "DONE").exit_code == 2
    assert client_run("jobs", "--limit", "0").exit_code == 2
    assert client_run("job").exit_code == 2


def test_login_refuses_a_url_that_is_not_http_and_an_empty_token(client_run) -> None:
    bad = client_run("login", "gas.example.org", "--token-stdin", input="gas_pat_x\n")
    assert bad.exit_code == 1 and "is not an http(s) URL" in bad.output
    empty = client_run("login", "https://gas.example.org", "--token-stdin", input="\n")
    assert empty.exit_code == 2 and "no token given" in empty.output


def test_an_unreachable_dashboard_is_one_line(client_run) -> None:
    # Port 9 (discard) on loopback: nothing answers, the connection is refused at once.
    result = client_run("jobs", GAS_API_URL="http://127.0.0.1:9", GAS_TOKEN="gas_pat_x")
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach http://127.0.0.1:9:")
    assert len(result.output.splitlines()) == 1
