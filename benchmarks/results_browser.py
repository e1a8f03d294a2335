"""The variant browser on a 1,000,000-variant result, and what its outputs cost the annotate step.

1. Generates a 1,000,000-record sites-only GRCh38 VCF (as `annotator_throughput.py` does), then
   times, interleaved ``--repeat`` times, `annotate_file` alone and `annotate_file` +
   `outputs.write_outputs` on it, called as the annotate activity calls them.
2. Deploys a throw-away stack (`stack.py`), uploads the outputs at a completed job's keys, starts
   the real dashboard process (``python -m webapp``: waitress) and asks it, ``--requests`` times
   each, one after another, for the job page's first page of variants, a gene filter, a region
   filter (chromosome + range) and a view sorted by gene; prints p50/p95/max per view, the first
   (cold) request of each, and the web process's RSS before and after.

Needs the default bundles (`gas reference install-defaults`) and the local cloud's installs.

    python -m benchmarks.results_browser [--records N] [--repeat N] [--requests N]
        [--browser-only] [--outputs DIR] [--rounds N]

``--browser-only`` skips part 1's timing (the outputs are made once, untimed); ``--outputs DIR``
keeps them in DIR and reuses them on a later run with the same ``--records``; ``--rounds N`` asks
for every view N times over (memory that is flat ends each round where the first ended).
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import requests
from flask.sessions import SecureCookieSessionInterface

from annotator import annotate_file, default_threads, outputs
from benchmarks.annotator_throughput import make_vcf
from benchmarks.stack import percentile, stack
from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from workflows import users

REPO = Path(__file__).resolve().parents[1]
USER_AGENT = "gas-results-bench"
# (name, URL arguments): what a researcher asks of a large result.
VIEWS: tuple[tuple[str, dict[str, str]], ...] = (
    ("first page", {}),
    ("gene filter (BRCA1)", {"gene": "BRCA1"}),
    ("region filter (chr17:40-45 Mb)", {"chrom": "chr17", "start": "40000000", "end": "45000000"}),
    ("sorted by gene (desc)", {"sort": "gene", "order": "desc"}),
    ("impact filter (HIGH, MODERATE)", {"impact": "HIGH,MODERATE"}),
    ("sorted by consequence", {"sort": "consequence"}),
)


def _annotate(source: Path, work: Path, settings: Settings) -> Path:
    out = work / keys.RESULT_FILES["annotated"]
    annotate_file(
        source,
        out,
        work / keys.RESULT_FILES["log"],
        work / keys.RESULT_FILES["summary"],
        build="GRCh38",
        reference_dir=settings.reference_dir,
        default_build=settings.default_build,
        threads=default_threads(source),
    )
    return out


def _write_outputs(annotated: Path, work: Path) -> dict[str, Path]:
    names = {k: keys.RESULT_FILES[k] for k in keys.STANDARD_OUTPUTS}
    return outputs.write_outputs(annotated, work / "outputs", names).files


def time_outputs(source: Path, work: Path, settings: Settings, repeat: int) -> dict[str, Path]:
    """Prints the medians of annotate alone and annotate + outputs; returns the last outputs."""
    alone: list[float] = []
    both: list[float] = []
    made: dict[str, Path] = {}
    for run in range(repeat):
        for with_outputs in (False, True):
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            gc.collect()
            began = time.perf_counter()
            annotated = _annotate(source, work, settings)
            if with_outputs:
                made = {"annotated": annotated, **_write_outputs(annotated, work)}
            took = time.perf_counter() - began
            (both if with_outputs else alone).append(took)
            label = "annotate_file + write_outputs" if with_outputs else "annotate_file alone"
            print(f"run {run + 1}: {label}: {took:.2f} s", flush=True)
    a, b = statistics.median(alone), statistics.median(both)
    for label, runs in (("annotate_file alone", alone), ("annotate_file + write_outputs", both)):
        low, high = min(runs), max(runs)
        print(f"{label}: median {statistics.median(runs):.2f} s (min {low:.2f}, max {high:.2f})")
    print(f"extra for the standard outputs: {b - a:.2f} s ({(b - a) / a:.0%} of annotate_file)")
    for kind, path in sorted(made.items()):
        print(f"  {kind}: {path.stat().st_size / 2**20:.1f} MiB")
    return {
        **made,
        "log": work / keys.RESULT_FILES["log"],
        "summary": work / keys.RESULT_FILES["summary"],
    }


def _seed_job(settings: Settings, files: dict[str, Path]) -> tuple[models.User, models.Job]:
    user = users.ensure_user(settings, f"bench-{secrets.token_hex(3)}@example.org", models.PREMIUM)
    key = keys.upload_key(user.user_id, keys.new_id())
    job_id = keys.job_id_for_upload(key)
    s3 = aws.client(settings, "s3")
    bucket = Resources.of(settings).results_bucket
    stored, sizes = {}, {}
    for kind, path in files.items():
        stored[kind] = keys.result_key(user.user_id, job_id, kind)
        s3.upload_file(str(path), bucket, stored[kind])
        sizes[kind] = path.stat().st_size
    job = models.Job(
        job_id,
        user_id=user.user_id,
        status=models.COMPLETED,
        input_key=key,
        input_filename="million.vcf",
        build="GRCh38",
        results=stored,
        result_sizes=sizes,
        submitted_at=models.now(),
        completed_at=models.now(),
        # An execution that does not exist: the page asks once per cache lifetime, draws the ASL.
        execution_arn=f"arn:aws:states:{settings.region}:000000000000:execution:"
        f"{settings.prefix}-annotation-job:{job_id}",
    )
    job.save()
    return user, job


def _session_cookie(settings: Settings, user_id: str) -> str:
    """The cookie Flask-Login sets for ``user_id`` from 127.0.0.1 (logins are rate-limited)."""
    from flask_login.utils import _create_identifier

    from webapp import create_app

    app = create_app(settings)
    with app.test_request_context(
        headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ):
        identity = _create_identifier()
    interface = app.session_interface
    assert isinstance(interface, SecureCookieSessionInterface), "signed-cookie sessions"
    serializer = interface.get_signing_serializer(app)
    assert serializer is not None, "the app has its secret key"
    return serializer.dumps({"_user_id": user_id, "_fresh": True, "_id": identity})


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_browser(
    settings: Settings, files: dict[str, Path], count: int, log: Path, rounds: int = 1
) -> None:
    """Prints latency per view through a real `python -m webapp`, and its RSS before and after."""
    user, job = _seed_job(settings, files)
    port = _free_port()
    web_settings = replace(settings, web_port=port, base_url=f"http://127.0.0.1:{port}")
    env = {**web_settings.subprocess_env(), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "webapp"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            http = requests.Session()
            http.headers["User-Agent"] = USER_AGENT
            http.cookies.set("gas_session", _session_cookie(web_settings, user.user_id))
            base = web_settings.base_url
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get(f"{base}/login", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                if web.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the dashboard did not start:\n{log.read_text()}")
                time.sleep(0.2)
            page = f"{base}/annotations/{job.job_id}"
            # Same URL shape the page's own links use; a login page would mean a lost session.
            check = http.get(page, timeout=60)
            assert check.ok and 'id="variant-table"' in check.text, "the browser did not render"
            rss_before = _rss_mib(web.pid)
            print(f"web process RSS after start-up and one job page: {rss_before:.0f} MiB")
            print("| view | requests | cold ms | p50 ms | p95 ms | max ms | matching | RSS after |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            p95s = []
            for round_, (name, args) in enumerate(VIEWS * rounds):
                if round_ and round_ % len(VIEWS) == 0:
                    print(f"| round {round_ // len(VIEWS) + 1} | | | | | | | |")
                took = []
                matching = ""
                for i in range(count):
                    began = time.perf_counter()
                    answer = http.get(page, params=args, timeout=120)
                    took.append((time.perf_counter() - began) * 1000)
                    if not answer.ok or 'id="matching"' not in answer.text:
                        raise SystemExit(f"{name}: answer {answer.status_code} without the table")
                    if i == 0:
                        text = answer.text.split('id="matching">', 1)[1]
                        matching = text.split("<", 1)[0]
                warm = took[1:] or took
                p95s.append(percentile(warm, 95))
                print(
                    f"| {name} | {count} | {took[0]:.0f} | {percentile(warm, 50):.0f} | "
                    f"{percentile(warm, 95):.0f} | {max(warm):.0f} | {matching} | "
                    f"{_rss_mib(web.pid):.0f} MiB |",
                    flush=True,
                )
            rss_after = _rss_mib(web.pid)
            print(f"web process RSS: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after")
            verdict = "holds" if max(p95s) < 300 else "does not hold"
            print(f"p95 < 300 ms for every view (warm requests): {verdict}")
        finally:
            web.terminate()
            try:
                web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                web.kill()
                web.wait()


def make_outputs(records: int, work: Path, settings: Settings) -> dict[str, Path]:
    """The outputs of one untimed annotate run (reused if ``work`` already holds them)."""
    done = work / f"outputs-{records}.done"
    run = work / "run"
    if not done.exists():
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        source = work / "million.vcf"
        make_vcf(source, records, settings.reference_dir)
        annotated = _annotate(source, run, settings)
        _write_outputs(annotated, run)
        source.unlink()
        done.touch()
    names = {k: keys.RESULT_FILES[k] for k in ("annotated", "log", "summary")}
    files = {kind: run / name for kind, name in names.items()}
    files.update({k: run / "outputs" / keys.RESULT_FILES[k] for k in keys.STANDARD_OUTPUTS})
    return {kind: path for kind, path in files.items() if path.exists()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=1, help="ask every view this many times")
    parser.add_argument("--browser-only", action="store_true", help="skip the annotate timing")
    parser.add_argument("--outputs", type=Path, default=None, help="keep/reuse outputs here")
    args = parser.parse_args()
    settings = Settings.from_env()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.browser_only:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            work = args.outputs or Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            files = make_outputs(args.records, work, settings)
            print(f"outputs: {args.records:,} records; annotate timing skipped")
            with stack() as bench:
                time_browser(bench, files, args.requests, Path(tmp) / "dashboard.log", args.rounds)
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        source = work / "million.vcf"
        make_vcf(source, args.records, settings.reference_dir)
        print(f"input: {args.records:,} records, {source.stat().st_size / 2**20:.0f} MiB")
        files = time_outputs(source, work / "run", settings, args.repeat)
        print(
            f"load average after the annotate runs: {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
        )
        with stack() as bench:
            time_browser(bench, files, args.requests, work / "dashboard.log", args.rounds)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
