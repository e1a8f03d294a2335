"""The annotate step from download to last upload, by phase, on the local cloud, beside
`bcftools annotate -a genes.bed.gz -Oz` + `tabix` on the same file, in one run; and the objects a
job stores, and their bytes, the old way (every file) and stored once (.vcf.gz + index, Parquet,
genes, summary, log).

The phases are those of activities.annotate: download the upload (multipart, concurrent), annotate
and write the standard outputs as the engine goes (one phase: `annotate`, `outputs` 0), upload
(multipart, concurrent). The old layout ran the engine, then made every output from its plain VCF.

Run: .venv/bin/python -m benchmarks.annotate_step [--records 100000,1000000]
(starts the local cloud if it is down; needs Debian's bcftools and tabix)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import annotator
from annotator import outputs
from benchmarks.annotator_throughput import genes_bed, make_vcf
from benchmarks.stack import stack
from gas import aws, keys
from gas.resources import Resources
from gas.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def _step(settings: Settings, vcf: Path, work: Path, layout: str) -> tuple[dict, dict[str, int]]:
    """One annotate step as activities.annotate runs it: seconds by phase, bytes by object."""
    names = Resources.of(settings)
    s3 = aws.client(settings, "s3")
    user, job = keys.new_id(), keys.new_id()
    input_key = keys.upload_key(user, keys.new_id())
    s3.upload_file(str(vcf), names.inputs_bucket, input_key, Config=aws.TRANSFER)
    work.mkdir(parents=True, exist_ok=True)
    t = {"start": time.monotonic()}
    source = work / "input.vcf"
    s3.download_file(names.inputs_bucket, input_key, str(source), Config=aws.TRANSFER)
    t["download"] = time.monotonic()
    out_vcf, log, summary = work / "annotated.vcf", work / "annotation.log", work / "summary.json"
    options: dict = {
        "build": "GRCh38",
        "reference_dir": settings.reference_dir,
        "threads": annotator.default_threads(source),
    }
    if layout == "old":
        # Then: the engine wrote the plain VCF, and the outputs were made from it afterwards.
        annotator.annotate_file(source, out_vcf, log, summary, **options)
        t["annotate"] = time.monotonic()
        std = outputs.write_outputs(
            out_vcf, work / "outputs", {k: keys.RESULT_FILES[k] for k in keys.STANDARD_OUTPUTS}
        )
        t["outputs"] = time.monotonic()
    else:
        # Now, as activities.annotate: the outputs are written as the engine goes.
        stored = keys.stored_output_files()
        _, std = outputs.annotate_with_outputs(
            source, work / "outputs", stored, log, summary, out_vcf, **options
        )
        t["annotate"] = t["outputs"] = time.monotonic()
    made = {"log": log, "summary": summary, **std.files}
    if layout == "old" or not std.sorted_input:
        made["annotated"] = out_vcf
    sizes = {}
    for kind, path in made.items():
        s3.upload_file(
            str(path), names.results_bucket, keys.result_key(user, job, kind), Config=aws.TRANSFER
        )
        sizes[keys.RESULT_FILES[kind]] = path.stat().st_size
    t["upload"] = time.monotonic()
    order = ["start", "download", "annotate", "outputs", "upload"]
    phases = {b: t[b] - t[a] for a, b in zip(order, order[1:], strict=False)}
    phases["total"] = t["upload"] - t["start"]
    shutil.rmtree(work, ignore_errors=True)
    return phases, sizes


def _bcftools(vcf: Path, bed: Path, hdr: Path, work: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `bcftools annotate -Oz` + `tabix` on ``vcf``."""
    out = work / "bcf.vcf.gz"
    began, cpu = time.monotonic(), _cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(
        ["bcftools", "annotate", "-a", str(bed), "-c", "CHROM,FROM,TO,GENE", "-h", str(hdr)]
        + ["-Oz", "-o", str(out), str(vcf)],
        check=True,
    )
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True)
    return time.monotonic() - began, _cpu(resource.RUSAGE_CHILDREN) - cpu


def _cpu(who: int) -> float:
    used = resource.getrusage(who)
    return used.ru_utime + used.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best is shown")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; LocalStack and DynamoDB Local on this machine")
    with tempfile.TemporaryDirectory() as tmp, stack() as settings:
        work = Path(tmp)
        bed, hdr = work / "genes.bed.gz", work / "gene.hdr"
        genes_bed(settings.reference_dir, bed)
        hdr.write_text('##INFO=<ID=GENE,Number=1,Type=String,Description="Gene name">\n')
        for n in (int(x) for x in args.records.split(",")):
            vcf = work / f"in{n}.vcf"
            make_vcf(vcf, n, settings.reference_dir)
            print(f"\n{n:,} records ({vcf.stat().st_size / 1e6:.0f} MB input)")
            # Each step run right after a bcftools run: on a shared machine the pairs' ratios
            # move less than either time. CPU seconds (this process; bcftools' children) too.
            bcf_runs: list[tuple[float, float]] = []
            for layout in ("old", "stored once"):
                runs, ratios = [], []
                for _ in range(args.repeat):
                    bcf_runs.append(_bcftools(vcf, bed, hdr, work))
                    cpu = _cpu(resource.RUSAGE_SELF)
                    phases, sizes = _step(settings, vcf, work / "step", layout)
                    runs.append((phases, sizes, _cpu(resource.RUSAGE_SELF) - cpu))
                    ratios.append(phases["total"] / bcf_runs[-1][0])
                phases, sizes, cpu = min(runs, key=lambda r: r[0]["total"])
                bcf, bcf_cpu = min(bcf_runs)
                shown = "  ".join(f"{k} {v:.2f}" for k, v in phases.items())
                print(f"  bcftools annotate -Oz + tabix: {bcf:.2f} s ({bcf_cpu:.2f} CPU s)")
                print(
                    f"  annotate step, {layout}: {shown} s = {phases['total'] / bcf:.2f}x bcftools"
                    f" ({cpu:.2f} CPU s in this process)"
                )
                print(
                    "    each run / the bcftools run just before it: "
                    + ", ".join(f"{r:.2f}x" for r in ratios)
                )
                kept = sum(sizes.values())
                print(f"    {len(sizes)} objects, {kept:,} bytes:")
                for name, size in sorted(sizes.items(), key=lambda i: -i[1]):
                    print(f"      {name:24} {size:>14,}")
                core = sum(
                    sizes.get(keys.RESULT_FILES[k], 0)
                    for k in ("annotated_gz", "annotated_tbi", "annotated_csi", "parquet")
                )
                print(f"    stored / (.vcf.gz + index + Parquet) = {kept / core:.2f}x")
            vcf.unlink()


if __name__ == "__main__":
    main()
