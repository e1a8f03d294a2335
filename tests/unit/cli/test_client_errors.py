"""The researcher's commands against a server that misbehaves: a real HTTP server on loopback that
answers what a broken proxy, a wrong URL or a cut connection would. Every failure is one
``Error: …`` line and exit code 1, never a traceback; a job id is checked before any request.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cli.api_client import EXAMPLE_JOB_ID

JOB_ID = "6f1c1d56-4a7e-4d43-9d0a-3c0b6f0e5a11"
Answer = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Answer] = {}
    seen: list[str] = []

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        route = self.routes.get(self.path.split("?", 1)[0])
        if route is None:
            _json(404, {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "-"})(
                self
            )
        else:
            route(self)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


def _json(status: int, body: object) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def _html(handler: BaseHTTPRequestHandler) -> None:
    data = b"<html><body>Welcome to nginx!</body></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection without an answer (a proxy that died)."""
    handler.connection.shutdown(socket.SHUT_RDWR)
    handler.close_connection = True


def _cut_short(handler: BaseHTTPRequestHandler) -> None:
    """Start a chunked body and close the connection in the middle of a chunk."""
    handler.protocol_version = "HTTP/1.1"
    handler.wfile.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"400\r\n" + b"#" * 100
    )
    handler.wfile.flush()
    handler.connection.shutdown(socket.SHUT_RDWR)
    handler.close_connection = True


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, Answer], list[str]]]:
    """(base URL, routes to fill in, requests seen)."""
    routes: dict[str, Answer] = {}
    seen: list[str] = []
    handler = type("Handler", (_Handler,), {"routes": routes, "seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", routes, seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def gas_at(run, tmp_path, server):
    """``gas ARGS`` logged in to the test server (through the environment)."""
    url, _, _ = server

    def invoke(*args: str):
        env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "GAS_API_URL": url, "GAS_TOKEN": "t"}
        return run(*args, env=env)

    return invoke


def _one_error_line(result) -> str:
    """The command failed cleanly: exit 1, no exception escaped, one line that says Error."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("job", "../me"),
        ("job", "me"),
        ("job", f"{JOB_ID}/downloads/input"),
        ("cancel", "../../openapi.json"),
        ("resubmit", "x?y"),
        ("rm", ".."),
        ("download", "../me"),
    ],
)
def test_a_job_id_is_checked_before_any_request(gas_at, server, args) -> None:
    _, routes, seen = server
    routes["/api/v1/me"] = _json(200, {"user_id": "u", "email": "a@b.c"})
    line = _one_error_line(gas_at(*args))
    assert line == f"Error: {args[1]!r} is not a job id (they look like {EXAMPLE_JOB_ID})"
    assert seen == []


def test_a_download_cut_short_is_one_line_and_leaves_no_file(gas_at, server, tmp_path) -> None:
    url, routes, _ = server
    routes[f"/api/v1/jobs/{JOB_ID}/downloads/annotated"] = _json(
        200, {"kind": "annotated", "url": f"{url}/bucket/annotated.vcf", "expires_at": "x"}
    )
    routes["/bucket/annotated.vcf"] = _cut_short
    target = tmp_path / "out.vcf"
    line = _one_error_line(gas_at("download", JOB_ID, "-o", str(target)))
    assert line.startswith("Error: download of annotated failed:")
    assert list(tmp_path.glob("*.vcf*")) == [] and list(tmp_path.glob(".out.vcf*")) == []


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (_html, "did not answer JSON"),
        (_json(200, {"hello": "world"}), "not what GAS answers"),
        (_json(200, ["a", "list"]), "not what GAS answers"),
        (_json(200, {"id": JOB_ID}), "not what GAS answers"),
        (_hang_up, "cannot reach"),
    ],
)
def test_a_reply_that_is_not_the_apis_is_one_line(gas_at, server, answer, says) -> None:
    _, routes, _ = server
    routes[f"/api/v1/jobs/{JOB_ID}"] = answer
    assert says in _one_error_line(gas_at("job", JOB_ID))


@pytest.mark.parametrize(
    "args",
    [("jobs",), ("cancel", JOB_ID), ("resubmit", JOB_ID), ("download", JOB_ID)],
)
def test_every_command_turns_a_strange_reply_into_one_line(gas_at, server, args) -> None:
    _, routes, _ = server
    for path in (
        "/api/v1/jobs",
        f"/api/v1/jobs/{JOB_ID}/cancel",
        f"/api/v1/jobs/{JOB_ID}/resubmit",
        f"/api/v1/jobs/{JOB_ID}/downloads/annotated",
    ):
        routes[path] = _json(200, {"unexpected": True})
    _one_error_line(gas_at(*args))


def test_login_to_something_that_is_not_gas_is_one_line(run, tmp_path, server) -> None:
    url, routes, _ = server
    routes["/api/v1/me"] = _json(200, {"name": "some other service"})
    result = run(
        "login", url, "--token-stdin", input="gas_pat_x\n", env={"XDG_CONFIG_HOME": str(tmp_path)}
    )
    assert "not what GAS answers" in _one_error_line(result)
    assert not (tmp_path / "gas" / "credentials.json").exists()
