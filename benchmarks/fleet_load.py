"""Load benchmark: 200 jobs submitted at once, drained by `gas fleet --max 4` on the local stack.

Prints the time to drain, jobs per minute over time, p50/p95 job latency, and whether every job ran
exactly once; writes a PNG of backlog and worker count over time (docs/fleet-load.png by default).
The fleet is left running until it has scaled back down to its minimum.

Run: .venv/bin/python -m benchmarks.fleet_load
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stack import SAMPLE, Workers, percentile, stack, submit_many, wait_all
from gas import models

DOCS = Path(__file__).resolve().parents[1] / "docs"


def run_fleet(settings, record: Path, log_dir: Path, maximum: int) -> subprocess.Popen:
    env = settings.subprocess_env()
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "fleet",
            "--activity",
            "annotate",
            "--min",
            "0",
            "--max",
            str(maximum),
            "--record",
            str(record),
            "--log-dir",
            str(log_dir),
        ],
        env=env,
        stdout=(log_dir / "fleet.out").open("wb"),
        stderr=subprocess.STDOUT,
    )


def read_record(record: Path) -> list[dict[str, float]]:
    with record.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def successes_per_job(log_dir: Path) -> collections.Counter:
    """How many times each job's annotation succeeded, from the workers' structured logs."""
    counts: collections.Counter = collections.Counter()
    for log in log_dir.glob("fleet-annotate-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if '"task-succeeded"' in line:
                counts[json.loads(line)["job_id"]] += 1
    return counts


def plot(rows: list[dict[str, float]], completions: list[float], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    t = [r["seconds"] for r in rows]
    ax.plot(t, [r["backlog"] for r in rows], label="backlog (jobs waiting)", color="tab:orange")
    ax.plot(t, [r["in_progress"] for r in rows], label="in progress", color="tab:green")
    ax.set_xlabel("seconds since the fleet started")
    ax.set_ylabel("jobs")
    ax2 = ax.twinx()
    ax2.step(
        t, [r["workers"] for r in rows], where="post", label="annotate workers", color="tab:blue"
    )
    ax2.set_ylabel("workers")
    ax2.set_ylim(0, max(r["workers"] for r in rows) + 1)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right")
    ax.set_title(f"gas fleet --max 4: {len(completions)} jobs submitted at once")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--max", type=int, default=4)
    parser.add_argument("--plot", type=Path, default=DOCS / "fleet-load.png")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; LocalStack and DynamoDB Local on this machine")
    with tempfile.TemporaryDirectory() as tmp, stack() as settings:
        log_dir = Path(tmp)
        record = log_dir / "fleet.csv"
        side = Workers(settings, log_dir / "side")
        side.start("notify")
        fleet = run_fleet(settings, record, log_dir, args.max)
        try:
            time.sleep(3)  # the fleet starts at its minimum: zero workers
            began = time.time()
            submitted = submit_many(settings, args.jobs, SAMPLE.read_bytes())
            print(
                f"uploaded and submitted {args.jobs} jobs in {time.time() - began:.1f} s "
                "(8 clients in parallel)"
            )
            done = wait_all([j for j, _ in submitted], timeout=3600)
            drained = time.time() - began
            print("waiting for the fleet to scale back down to 0 …")
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                rows = read_record(record)
                if rows and rows[-1]["workers"] == 0 and max(r["workers"] for r in rows) > 0:
                    break
                time.sleep(2)
        finally:
            fleet.send_signal(signal.SIGTERM)
            fleet.wait(timeout=180)
            side.stop()
        rows = read_record(record)
        completed = [j for j in done.values() if j.status == models.COMPLETED]
        latencies = [j.completed_at.timestamp() - j.submitted_at.timestamp() for j in completed]
        finish_times = sorted(j.completed_at.timestamp() - began for j in completed)
        runs = successes_per_job(log_dir)
        print(
            f"drained {len(completed)}/{args.jobs} jobs in {drained:.1f} s "
            f"= {len(completed) / drained * 60:.0f} jobs/min overall"
        )
        print(
            f"job latency (submit -> COMPLETED): p50 {percentile(latencies, 50):.1f} s, "
            f"p95 {percentile(latencies, 95):.1f} s"
        )
        print(
            "jobs completed per minute, by minute:",
            ", ".join(str(n) for n in _per_minute(finish_times)),
        )
        print(
            f"peak workers {max(r['workers'] for r in rows):.0f}; "
            f"final workers {rows[-1]['workers']:.0f}"
        )
        twice = [j for j, n in runs.items() if n > 1]
        missing = [j.job_id for j in completed if runs.get(j.job_id, 0) == 0]
        print(
            f"annotations that succeeded more than once: {len(twice)}; jobs never annotated: "
            f"{args.jobs - len(completed)}; completed jobs without a logged run: {len(missing)}"
        )
        scale_ins = sum(
            1 for a, b in zip(rows, rows[1:], strict=False) if b["workers"] < a["workers"]
        )
        print(f"scale-in steps: {scale_ins}")
        plot(rows, finish_times, args.plot)
        print(f"plot: {args.plot}")


def _per_minute(finish_times: list[float]) -> list[int]:
    if not finish_times:
        return []
    bins = [0] * (int(finish_times[-1] // 60) + 1)
    for t in finish_times:
        bins[int(t // 60)] += 1
    return bins


if __name__ == "__main__":
    main()
