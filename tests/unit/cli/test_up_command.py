"""`gas up`'s checks before it starts anything: another `gas up`, and a dashboard port in use."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from infra.supervisor import SUPERVISOR_PID_FILE, write_pid_file


def test_a_port_another_process_holds_stops_gas_up_before_it_claims_the_dashboard(
    run, tmp_path: Path
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run("up", env={"GAS_WEB_PORT": str(port)})
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use by another process" in result.output
    assert "GAS is up" not in result.output


def test_a_second_gas_up_refuses_while_the_first_runs(run, tmp_path: Path) -> None:
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_dir = tmp_path / "state" / "run" / "gas-up"
        pid_dir.mkdir(parents=True)
        write_pid_file(pid_dir / SUPERVISOR_PID_FILE, first.pid)
        result = run("up")
        assert result.exit_code == 1
        assert f"gas up is already running (pid {first.pid})" in result.output
    finally:
        first.kill()
        first.wait()
