"""Annotator throughput on a generated 1,000,000-record sites-only GRCh38 VCF, beside bcftools.

Prints variants per second end to end and peak memory for `annotate_file`, then times, on the same
file, `bcftools view` (the floor: read and write it) and `bcftools annotate -a genes.bed.gz` with a
gene BED made from the same bundle (a real peer doing less work: gene name only). Needs the default
bundles (`gas reference install-defaults`) and Debian's bcftools + tabix for the comparison.

    python benchmarks/annotator_throughput.py [--records N] [--repeat N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def make_vcf(path: Path, n: int, reference_dir: Path, seed: int = 7) -> None:
    """n sites spread over GRCh38 in proportion to chromosome length, sorted, with AC/AN INFO."""
    from annotator.vcf import CONTIG_LENGTHS

    rng = np.random.default_rng(seed)
    lengths = CONTIG_LENGTHS["GRCh38"]
    names = list(lengths)
    sizes = np.array([lengths[c] for c in names], np.int64)
    per = rng.multinomial(n, sizes / sizes.sum())
    bases = np.array(list("ACGT"))
    with open(path, "w") as f:
        f.write("##fileformat=VCFv4.2\n##reference=GRCh38\n")
        for c, length in zip(names, sizes, strict=True):
            f.write(f"##contig=<ID=chr{c},length={length}>\n")
        f.write('##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">\n')
        f.write('##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">\n')
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for c, k, length in zip(names, per, sizes, strict=True):
            pos = np.sort(rng.integers(1, length, k))
            ref = bases[rng.integers(0, 4, k)]
            alt = bases[(np.searchsorted(bases, ref) + rng.integers(1, 4, k)) % 4]
            ac = rng.integers(1, 50, k)
            lines = [
                f"chr{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\tAC={x};AN=5008\n"
                for p, r, a, x in zip(pos.tolist(), ref, alt, ac.tolist(), strict=True)
            ]
            f.write("".join(lines))


def genes_bed(reference_dir: Path, out: Path) -> None:
    """A BED of gene names from the bundle, with chr names, bgzipped and tabix-indexed."""
    from annotator.bundle import load_bundle

    b = load_bundle(reference_dir, "GRCh38")
    g = b.genes.to_pydict()
    rows = sorted(
        zip(g["contig"], g["start"], g["end"], g["gene_name"], strict=True),
        key=lambda r: (b.contigs.index(r[0]), r[1]),
    )
    plain = out.with_suffix("")
    plain.write_text("".join(f"chr{c}\t{s}\t{e}\t{n}\n" for c, s, e, n in rows))
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "bed", str(out)], check=True)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of a child process."""
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, cmd)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


def run_gas(vcf: Path, work: Path, reference_dir: Path) -> dict:
    """annotate_file in a fresh process pinned to one core, so its peak memory is its own."""
    code = (
        "import json, resource, time\n"
        "from pathlib import Path\n"
        "from annotator import annotate_file\n"
        "t0 = time.perf_counter()\n"
        f"r = annotate_file(Path({str(vcf)!r}), Path({str(work / 'gas.vcf')!r}), "
        f"Path({str(work / 'gas.log')!r}), Path({str(work / 'gas.json')!r}), "
        f"reference_dir=Path({str(reference_dir)!r}))\n"
        "s = time.perf_counter() - t0\n"
        "print(json.dumps({'variants': r.variants, 'seconds': s, "
        "'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    cmd = [sys.executable, "-c", code]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    # "wall" is the whole process (interpreter start and imports included), as bcftools is timed.
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "wall": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5, help="runs of each tool, interleaved")
    p.add_argument("--workdir", type=Path, default=REPO / ".gas" / "bench")
    p.add_argument("--reference-dir", type=Path, default=REPO / ".gas" / "reference")
    a = p.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    vcf = a.workdir / f"sites_{a.records}.vcf"
    if not vcf.exists():
        print(f"generating {vcf} ...", flush=True)
        make_vcf(vcf, a.records, a.reference_dir)
    size = vcf.stat().st_size / 2**20
    print(f"input: {a.records:,} records, {size:.0f} MiB, sites only, GRCh38")
    have_bcftools = shutil.which("bcftools") is not None
    if not have_bcftools:
        print("bcftools not installed: apt-get update && apt-get install -y bcftools tabix")
    bed = a.workdir / "genes.bed.gz"
    hdr = a.workdir / "gene.hdr"
    if have_bcftools:
        # In a child: ru_maxrss survives fork+exec, so a big parent would inflate bcftools' figure.
        code = (
            "import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path; "
            "from annotator_throughput import genes_bed; "
            f"genes_bed(Path({str(a.reference_dir)!r}), Path({str(bed)!r}))"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        hdr.write_text('##INFO=<ID=GENE,Number=1,Type=String,Description="Gene name">\n')
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    view = [*pin, "bcftools", "view", "-Ov", "-o", str(a.workdir / "view.vcf"), str(vcf)]
    annotate = [
        *pin,
        "bcftools",
        "annotate",
        "-a",
        str(bed),
        "-c",
        "CHROM,FROM,TO,GENE",
        "-h",
        str(hdr),
        "-Ov",
        "-o",
        str(a.workdir / "bcf_ann.vcf"),
        str(vcf),
    ]
    # Interleaved, so a burst of other load on the machine hits every tool alike.
    runs: dict[str, list[tuple[float, float]]] = {
        "gas": [],
        "gas_in": [],
        "view": [],
        "annotate": [],
    }
    outputs = [a.workdir / n for n in ("gas.vcf", "view.vcf", "bcf_ann.vcf")]
    for i in range(a.repeat):
        for out in outputs:  # not timed: freeing the last run's output is not this run's work
            out.unlink(missing_ok=True)
        g = run_gas(vcf, a.workdir, a.reference_dir)
        runs["gas"].append((g["wall"], g["peak_mib"]))
        runs["gas_in"].append((g["seconds"], g["peak_mib"]))
        line = f"run {i + 1}: gas {g['wall']:.2f} s ({g['seconds']:.2f} s in annotate_file)"
        if have_bcftools:
            runs["view"].append(timed(view))
            runs["annotate"].append(timed(annotate))
            line += f"  view {runs['view'][-1][0]:.2f} s  annotate {runs['annotate'][-1][0]:.2f} s"
        print(line, flush=True)
    labels = {
        "gas": "GAS, whole process (1 core)",
        "gas_in": "GAS, inside annotate_file",
        "view": "bcftools view",
        "annotate": "bcftools annotate -a genes.bed.gz",
    }
    print(f"\nmedians of {a.repeat} interleaved runs, {a.records:,} records:")
    print("| tool | seconds (median, min–max) | variants/s (median) | peak RSS |")
    print("| --- | --- | --- | --- |")
    for key, rs in runs.items():
        if not rs:
            continue
        secs = [s for s, _ in rs]
        med = statistics.median(secs)
        print(
            f"| {labels[key]} | {med:.2f} ({min(secs):.2f}–{max(secs):.2f}) | "
            f"{a.records / med:,.0f} | {max(m for _, m in rs):.0f} MiB |"
        )
    if have_bcftools:
        ratio = statistics.median(s for s, _ in runs["gas"]) / statistics.median(
            s for s, _ in runs["annotate"]
        )
        print(f"GAS / bcftools annotate time ratio (medians): {ratio:.2f}")
        version = subprocess.run(["bcftools", "--version"], capture_output=True, text=True).stdout
        print(f"bcftools version: {version.splitlines()[0]}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
