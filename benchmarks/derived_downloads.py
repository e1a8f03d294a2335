"""A made-on-request download of a large result, two ways, on the local cloud: streamed by the
dashboard from the stored object (what GAS does) against a short-lived derived object (make the
plain VCF or TSV, upload it, presign it). Time to first byte, total, and the web process's peak
resident memory growth.

Run: .venv/bin/python -m benchmarks.derived_downloads [--records 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import annotator
from annotator import outputs
from benchmarks.annotator_throughput import make_vcf
from benchmarks.stack import stack
from gas import aws, keys, result_kinds
from gas.resources import Resources
from workflows import downloads


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _measure(make) -> tuple[float, float, int, int]:
    peak, stop = [_rss()], threading.Event()
    start_rss = peak[0]

    def sample() -> None:
        while not stop.wait(0.01):
            peak[0] = max(peak[0], _rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    began, first, total = time.monotonic(), None, 0
    for piece in make():
        first = first or time.monotonic()
        total += len(piece)
    ended = time.monotonic()
    stop.set()
    thread.join()
    return (first or ended) - began, ended - began, total, peak[0] - start_rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, stack() as settings:
        work = Path(tmp)
        vcf, out = work / "in.vcf", work / "annotated.vcf"
        make_vcf(vcf, args.records, settings.reference_dir)
        annotator.annotate_file(
            vcf, out, work / "log", work / "summary.json", reference_dir=settings.reference_dir
        )
        names = keys.stored_output_files()
        made = outputs.write_outputs(out, work / "std", names)
        s3, bucket = aws.client(settings, "s3"), Resources.of(settings).results_bucket
        user, job_id = keys.new_id(), keys.new_id()
        stored = {}
        for kind, path in made.files.items():
            stored[kind] = keys.result_key(user, job_id, kind)
            s3.upload_file(str(path), bucket, stored[kind], Config=aws.TRANSFER)
        job = SimpleNamespace(
            job_id=job_id,
            input_filename="in.vcf",
            results=SimpleNamespace(as_dict=lambda: stored),
        )
        kept = sum(p.stat().st_size for p in made.files.values())
        print(f"{args.records:,} records; stored {kept:,} bytes")
        for kind in ("annotated", "tsv"):
            plan = downloads.plan(job, kind)  # type: ignore[arg-type]
            ttfb, took, size, grew = _measure(lambda plan=plan: downloads.stream(settings, plan))
            print(
                f"  {kind:9} streamed:        first byte {ttfb:6.2f} s, all {took:6.2f} s, "
                f"{size / 1e6:7.0f} MB, web process +{grew >> 20} MiB"
            )

            def derived(plan=plan, kind=kind):
                # Make the whole file, upload it, then the client reads it back from S3.
                path = work / f"derived-{kind}"
                with open(path, "wb") as f:
                    for piece in downloads.stream(settings, plan):
                        f.write(piece)
                key = f"derived/{job_id}/{result_kinds.get(kind).file}"
                s3.upload_file(str(path), bucket, key, Config=aws.TRANSFER)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
                yield from body.iter_chunks(1 << 20)
                path.unlink()

            ttfb, took, size, grew = _measure(derived)
            print(
                f"  {kind:9} derived object:  first byte {ttfb:6.2f} s, all {took:6.2f} s, "
                f"{size / 1e6:7.0f} MB, worker +{grew >> 20} MiB, +{size / 1e6:.0f} MB PUT"
            )


if __name__ == "__main__":
    main()
