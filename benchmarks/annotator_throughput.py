"""Annotator throughput on a generated 1,000,000-record sites-only GRCh38 VCF, beside bcftools.

Times, interleaved, whole processes on the same file: `gas annotate` on one core and on all cores
(blocks in threads), `bcftools view` (the floor: read and write it) and `bcftools annotate -a
genes.bed.gz` with a gene BED made from the same bundle (a real peer doing less work: gene name
only); prints medians, CPU time, peak memory, the speed-up and an Amdahl projection for 16 cores.
Needs the default bundles (`gas reference install-defaults`) and Debian's bcftools + tabix.

    python benchmarks/annotator_throughput.py [--records N] [--repeat N] [--threads N]
        [--before CHECKOUT]   # also time another checkout's `gas annotate` (a round's before)
"""

from __future__ import annotations

import argparse
import filecmp
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


def _tree_pss_mib(session: int) -> float:
    """Proportional set size of every process in a session (shared pages split between them)."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) != session:
                    continue
            with open(f"/proc/{d}/smaps_rollup") as f:
                total += next(int(ln.split()[1]) for ln in f if ln.startswith("Pss:"))
        except (OSError, ValueError, StopIteration):
            continue
    return total / 1024


def timed(cmd: list[str], sample_memory: bool = False) -> dict:
    """Wall seconds, CPU seconds (children included) and peak RSS of the largest process of a
    child process; with sample_memory, also the peak PSS of its whole process tree (sampled every
    0.1 s; reading smaps slows the process down, so such a run is not a timed one)."""
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    pss = 0.0
    if sample_memory:
        while not (done := os.wait4(child.pid, os.WNOHANG))[0]:
            pss = max(pss, _tree_pss_mib(child.pid))
            time.sleep(0.1)
        _, status, usage = done
    else:
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    out = child.stdout.read() if child.stdout else ""
    if os.waitstatus_to_exitcode(status):
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), cmd, out)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
        "pss": pss,
        "stdout": out,
    }


def gas_cmd(vcf: Path, out: Path, threads: int, tree: Path = REPO) -> list[str]:
    """The whole `gas annotate` process, as a researcher runs it (from checkout ``tree``; the
    option's old name, --processes, which every checkout knows)."""
    return ["env", f"PYTHONPATH={tree}", str(Path(sys.executable).with_name("gas")), "annotate",
            str(vcf), "-o", str(out), "--processes", str(threads)]  # fmt: skip


def compile_bytecode(trees: list[Path]) -> None:
    """Compile GAS's modules in the checkouts timed, as an installed GAS has them (pip compiles
    a wheel's modules): a checkout run with PYTHONDONTWRITEBYTECODE never writes them, and then
    every start compiles the annotator, CLI and settings source again (~35 ms)."""
    for tree in trees:
        dirs = [str(tree / d) for d in ("annotator", "cli", "gas")]
        subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5, help="runs of each tool, interleaved")
    p.add_argument("--workdir", type=Path, default=REPO / ".gas" / "bench")
    p.add_argument("--reference-dir", type=Path, default=REPO / ".gas" / "reference")
    p.add_argument("--threads", type=int, default=None, help="GAS on all cores [all cores]")
    p.add_argument("--before", type=Path, default=None, help="another checkout to time too")
    a = p.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    cores = a.threads or len(os.sched_getaffinity(0))
    vcf = a.workdir / f"sites_{a.records}.vcf"
    if not vcf.exists():
        print(f"generating {vcf} ...", flush=True)
        # In a child: ru_maxrss survives fork+exec, so a big parent would inflate every figure.
        code = (
            "import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path; "
            "from annotator_throughput import make_vcf; "
            f"make_vcf(Path({str(vcf)!r}), {a.records}, Path({str(a.reference_dir)!r}))"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
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
    os.environ["GAS_REFERENCE_DIR"] = str(a.reference_dir)  # what `gas annotate` reads
    # The same header and no records: what a run costs before its first record (serial).
    empty = a.workdir / "header_only.vcf"
    with open(vcf) as f, open(empty, "w") as out:
        for line in f:
            out.write(line)
            if line.startswith("#CHROM"):
                break
    compile_bytecode([REPO] + ([a.before] if a.before else []))
    tools = {
        "gas1": [*pin, *gas_cmd(vcf, a.workdir / "gas1.vcf", 1)],
        "gasN": gas_cmd(vcf, a.workdir / "gasN.vcf", cores),
        "start": [*pin, *gas_cmd(empty, a.workdir / "start.vcf", 1)],
    }
    if a.before:
        tools["before1"] = [*pin, *gas_cmd(vcf, a.workdir / "before1.vcf", 1, a.before)]
        tools["beforeN"] = gas_cmd(vcf, a.workdir / "beforeN.vcf", cores, a.before)
    if have_bcftools:
        view_out = str(a.workdir / "view.vcf")
        tools["view"] = [*pin, "bcftools", "view", "-Ov", "-o", view_out, str(vcf)]
        tools["annotate"] = [
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
    labels = {
        "gas1": "`gas annotate --threads 1` (1 core)",
        "gasN": f"`gas annotate --threads {cores}` (all cores)",
        "start": "`gas annotate` of the header alone (start-up, 1 core)",
        "before1": f"before: {a.before} `--threads 1` (1 core)",
        "beforeN": f"before: {a.before} `--threads {cores}` (all cores)",
        "view": "`bcftools view` (1 core)",
        "annotate": "`bcftools annotate -a genes.bed.gz` (1 core)",
    }
    gas_keys = [k for k in ("gas1", "gasN", "start", "before1", "beforeN") if k in tools]
    outputs: dict[str, Path] = {k: a.workdir / f"{k}.vcf" for k in gas_keys}
    outputs.update(view=a.workdir / "view.vcf", annotate=a.workdir / "bcf_ann.vcf")
    runs: dict[str, list[dict]] = {k: [] for k in tools}
    load_before = os.getloadavg()
    # Interleaved, so a burst of other load on the machine hits every tool alike.
    for i in range(a.repeat):
        line = f"run {i + 1}:"
        for key, cmd in tools.items():
            # Not timed: freeing the last run's output, and flushing the previous tool's to disk
            # (its writeback would otherwise slow down whichever tool runs next).
            outputs[key].unlink(missing_ok=True)
            os.sync()
            r = timed(cmd)
            if key in gas_keys:
                r["inside"] = float(r["stdout"].split(") in ")[1].split(" s")[0])
            runs[key].append(r)
            line += f"  {key} {r['wall']:.2f} s"
        print(line, flush=True)
    load_after = os.getloadavg()
    pss = {k: timed(cmd, sample_memory=True)["pss"] for k, cmd in tools.items()}
    for key in ("gasN", "before1", "beforeN"):
        if key in tools and not filecmp.cmp(outputs["gas1"], outputs[key], shallow=False):
            raise SystemExit(f"GAS outputs of gas1 and {key} differ")
    print(f"GAS outputs of 1 and {cores} threads{' (and before)' if a.before else ''}: identical")
    med = {k: statistics.median(r["wall"] for r in rs) for k, rs in runs.items()}
    print(f"\nmedians of {a.repeat} interleaved runs, {a.records:,} records, whole processes:")
    print("| tool | seconds (median, min–max) | variants/s | CPU s | peak RSS | peak PSS, tree |")
    print("| --- | --- | --- | --- | --- | --- |")
    for key, rs in runs.items():
        secs = [r["wall"] for r in rs]
        cpu = statistics.median(r["cpu"] for r in rs)
        rate = "—" if key == "start" else f"{a.records / med[key]:,.0f}"
        print(
            f"| {labels[key]} | {med[key]:.2f} ({min(secs):.2f}–{max(secs):.2f}) | "
            f"{rate} | {cpu:.2f} | {max(r['rss'] for r in rs):.0f} MiB | "
            f"{pss[key]:.0f} MiB |"
        )
    for key in gas_keys:
        inside = statistics.median(r["inside"] for r in runs[key])
        print(f"{labels[key]}: {inside:.2f} s inside annotate_file (median)")
    if have_bcftools:
        for key in ("gas1", "gasN", "before1", "beforeN"):
            if key in med:
                ratio = med[key] / med["annotate"]
                cpu = statistics.median(r["cpu"] for r in runs[key])
                cpu_ratio = cpu / statistics.median(r["cpu"] for r in runs["annotate"])
                print(f"{labels[key]} / bcftools annotate (medians): {ratio:.2f} "
                      f"(CPU s: {cpu_ratio:.2f})")  # fmt: skip
        version = subprocess.run(["bcftools", "--version"], capture_output=True, text=True).stdout
        print(f"bcftools version: {version.splitlines()[0]}")
    # Amdahl: T(P) = T(1) * (f + (1 - f) / P). f measured two ways: from the 1- and N-core
    # medians (an upper bound when other jobs take cores), and the start-up alone (a lower bound:
    # the parent's reading and writing are serial too).
    speedup = med["gas1"] / med["gasN"]
    print(f"speed-up on {cores} cores: {speedup:.2f}x")
    fits = {"start-up only": min(med["start"] / med["gas1"], 1.0)}
    if cores > 1:
        f = (med["gasN"] / med["gas1"] - 1 / cores) / (1 - 1 / cores)
        fits[f"from the {cores}-core speed-up"] = min(max(f, 0.0), 1.0)
    for how, f in fits.items():
        t16 = med["gas1"] * (f + (1 - f) / 16)
        print(
            f"Amdahl, serial fraction {how}: f = {f:.2f}; 16 cores: {1 / (f + (1 - f) / 16):.1f}x "
            f"({t16:.2f} s, {t16 / med.get('annotate', float('nan')):.2f} x bcftools annotate)"
        )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(1 min; {os.cpu_count()} cores)"
    )
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
