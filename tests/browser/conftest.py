"""Headless Chromium against a real dashboard, workers and local cloud.

The session deploys its own stack (short retention), serves ``python -m webapp`` on a free port and
runs ``gas worker …`` processes, so the browser walks the same path a researcher does.
"""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gas import models
from gas.settings import REPO_ROOT, Settings
from infra import deploy
from tests.cloud import free_port, shared_local_cloud

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
# Long enough to see the results and download them, short enough to watch them get archived.
RETENTION_SECONDS = 25


@pytest.fixture(scope="session")
def browser_settings() -> Iterator[Settings]:
    """A stack of the session's own, and settings for a dashboard on a free port."""
    with shared_local_cloud() as cloud:
        port = free_port()
        settings = dataclasses.replace(
            cloud.settings.with_prefix(f"b{secrets.token_hex(4)}"),
            web_port=port,
            base_url=f"http://127.0.0.1:{port}",
            free_retention_seconds=RETENTION_SECONDS,
        )
        deploy.deploy(settings)
        models.bind(settings)
        yield settings
        deploy.destroy(settings)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and the session's process logs go."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def retention_seconds(browser_settings: Settings) -> int:
    return browser_settings.free_retention_seconds


class Process:
    """A child process logging to a file under test-artifacts/, stopped by its own pid."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def dashboard(browser_settings: Settings) -> Iterator[str]:
    """``python -m webapp`` serving the session's stack; yields its base URL."""
    env = browser_settings.subprocess_env()
    env["PYTHONUNBUFFERED"] = "1"
    web = Process("dashboard", [sys.executable, "-m", "webapp"], env)
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(browser_settings.base_url + "/login", timeout=2).ok:
                break
        except requests.ConnectionError:
            pass
        if web.proc.poll() is not None or time.monotonic() > deadline:
            web.stop()
            pytest.fail(f"the dashboard did not start:\n{web.log_path.read_text()}")
        time.sleep(0.2)
    yield browser_settings.base_url
    web.stop()


def available_workers() -> set[str]:
    """The `gas worker` kinds this checkout has."""
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "worker", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    ).stdout
    usage = out.replace("\n", " ")
    if "{" not in usage:
        return set()
    choices = usage[usage.index("{") + 1 : usage.index("}")]
    return {c.strip() for c in choices.replace(" ", "").split("|")}


@pytest.fixture(scope="session")
def workers(browser_settings: Settings) -> Iterator[set[str]]:
    """One `gas worker KIND` process per activity this checkout has; yields their kinds."""
    kinds = available_workers()
    env = browser_settings.subprocess_env()
    env["PYTHONUNBUFFERED"] = "1"
    procs = [
        Process(f"worker-{kind}", [sys.executable, "-m", "cli.main", "worker", kind], env)
        for kind in sorted(kinds)
    ]
    yield kinds
    # The browser stack is thrown away next, so idle workers need not finish their 60 s long
    # polls: all are told to stop at once and killed after a short grace.
    for proc in procs:
        if proc.proc.poll() is None:
            proc.proc.terminate()
    deadline = time.monotonic() + 5
    for proc in procs:
        try:
            proc.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.proc.kill()
            proc.proc.wait()
        proc._log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make setup-browser`")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, dashboard: str) -> Iterator[object]:
    context = browser.new_context(base_url=dashboard, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
