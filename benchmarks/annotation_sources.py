"""Annotation sources at scale: a 1,000,000-record input against a generated 10,000,000-record
source with two fields, beside `bcftools annotate -a source.vcf.gz -c INFO/AF,INFO/SIG`.

In one sitting, whole processes, interleaved: `gas annotate IN -o OUT --source BUILT` (every
default annotation: regions, genes, picks, consequences, plus the source's two fields), the same
without the source, with a 1,000,000-record source (memory against the source's size), and
`bcftools annotate` alone (its input bgzipped and indexed, as it requires; not timed). Prints
medians, CPU seconds and peak RSS, the time and size of building the compact form against the
source's `.vcf.gz`, and checks that GAS and bcftools matched the same alleles. Needs the default
bundles and Debian's bcftools, bgzip and tabix.

    python benchmarks/annotation_sources.py [--records N] [--source-records N] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.annotator_throughput import compile_bytecode, timed  # noqa: E402

SIG = np.array(
    ["Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Likely_benign", "Benign"]
)
HEADER = (
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">\n'
    '##INFO=<ID=SIG,Number=1,Type=String,Description="A clinical significance">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def _input_sites(vcf: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each contig's (positions, REF, ALT) of a make_vcf input: half go into the source."""
    found: dict[str, list] = {}
    with open(vcf) as f:
        for line in f:
            if line[0] == "#":
                continue
            c, p, _, r, a = line.split("\t", 5)[:5]
            found.setdefault(c, []).append((int(p), r, a))
    return {
        c: (np.array([x[0] for x in v]), np.array([x[1] for x in v]), np.array([x[2] for x in v]))
        for c, v in found.items()
    }


def make_source(path: Path, n: int, vcf: Path, seed: int = 3) -> None:
    """n SNV sites over GRCh38 (chr names), sorted: half the input's sites (same alleles), the
    rest random; AF (Float, Number=A) and SIG (String, Number=1) on every one."""
    from annotator.vcf import CONTIG_LENGTHS

    rng = np.random.default_rng(seed)
    lengths = CONTIG_LENGTHS["GRCh38"]
    sizes = np.array(list(lengths.values()), np.int64)
    inp = _input_sites(vcf)
    total_in = sum(len(v[0]) for v in inp.values())
    per = rng.multinomial(n - total_in // 2, sizes / sizes.sum())
    bases = np.array(list("ACGT"))
    with open(path, "w") as f:
        f.write("##fileformat=VCFv4.2\n##reference=GRCh38\n")
        for c, length in lengths.items():
            f.write(f"##contig=<ID=chr{c},length={length}>\n")
        f.write(HEADER)
        for (c, length), k in zip(lengths.items(), per, strict=True):
            pos = rng.integers(1, length, k)
            ref = bases[rng.integers(0, 4, k)]
            alt = bases[(np.searchsorted(bases, ref) + rng.integers(1, 4, k)) % 4]
            ip, ir, ia = inp.get(f"chr{c}", (np.zeros(0, int), np.zeros(0, str), np.zeros(0, str)))
            half = rng.random(len(ip)) < 0.5
            pos = np.concatenate([pos, ip[half]])
            ref = np.concatenate([ref, ir[half]])
            alt = np.concatenate([alt, ia[half]])
            order = np.argsort(pos, kind="stable")
            pos, ref, alt = pos[order], ref[order], alt[order]
            af = rng.random(len(pos)) ** 3
            sig = SIG[rng.integers(0, len(SIG), len(pos))]
            lines = [
                f"chr{c}\t{p}\t.\t{r}\t{a}\t.\t.\tAF={x:.4g};SIG={s}\n"
                for p, r, a, x, s in zip(
                    pos.tolist(), ref, alt, af.tolist(), sig.tolist(), strict=True
                )
            ]
            f.write("".join(lines))


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def build(source_gz: Path, out: Path, reference_dir: Path) -> dict:
    """Build the compact form in a child process (its time and peak memory its own)."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from annotator.annotation_sources import build_source; "
        f"m = build_source(Path({str(source_gz)!r}), Path({str(out)!r}), name='bench', "
        f"build='GRCh38', fields=['AF', 'SIG'], reference_dir=Path({str(reference_dir)!r}), "
        "version=1); print(json.dumps(m['counts']))"
    )
    shutil.rmtree(out, ignore_errors=True)
    r = timed([sys.executable, "-c", code])
    r["bytes"] = sum(p.stat().st_size for p in out.iterdir())
    return r


def gas_cmd(vcf: Path, out: Path, source: Path | None) -> list[str]:
    cmd = [str(Path(sys.executable).with_name("gas")), "annotate", str(vcf), "-o", str(out)]
    return cmd + (["--source", str(source)] if source else [])


def _values(path: Path, tags: tuple[str, str]) -> dict[tuple, list]:
    """(CHROM, POS, REF, ALT) -> the (AF, SIG) values of each record written so."""
    out: dict[tuple, list] = {}
    with open(path) as f:
        for line in f:
            if line[0] == "#":
                continue
            c = line.rstrip("\n").split("\t")
            info = dict(x.split("=", 1) for x in c[7].split(";") if "=" in x)
            af = info.get(tags[0])
            af = None if af in (None, ".") else f"{np.float32(float(af)):.6g}"
            out.setdefault((c[0], c[1], c[3], c[4]), []).append((af, info.get(tags[1])))
    return out


def compare(gas_vcf: Path, bcftools_vcf: Path) -> tuple[int, int, int]:
    """(alleles with a value from GAS, from bcftools, keys whose values differ), values compared
    at bcftools' 6 significant digits; records keyed by their alleles (bcftools may reorder the
    records of one position)."""
    g = _values(gas_vcf, ("GAS_BENCH_AF", "GAS_BENCH_SIG"))
    b = _values(bcftools_vcf, ("AF", "SIG"))
    with_value = [sum(v[0] is not None for vs in d.values() for v in vs) for d in (g, b)]
    differ = sum(sorted(map(str, g[k])) != sorted(map(str, b.get(k, []))) for k in g)
    return with_value[0], with_value[1], differ


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--source-records", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir", type=Path, default=REPO / ".gas" / "bench-sources")
    p.add_argument("--reference-dir", type=Path, default=REPO / ".gas" / "reference")
    a = p.parse_args()
    w = a.workdir
    w.mkdir(parents=True, exist_ok=True)
    os.environ["GAS_REFERENCE_DIR"] = str(a.reference_dir)
    vcf = w / f"input_{a.records}.vcf"
    if not vcf.exists():
        print(f"generating {vcf} ...", flush=True)
        code = (
            "import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path; "
            "from annotator_throughput import make_vcf; "
            f"make_vcf(Path({str(vcf)!r}), {a.records}, Path({str(a.reference_dir)!r}))"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    vcf_gz = Path(f"{vcf}.gz")
    if not vcf_gz.exists():  # bcftools annotate -a needs a bgzipped, indexed input
        sh("bgzip", "-k", "-f", "-@", "2", str(vcf))
        sh("tabix", "-f", "-p", "vcf", str(vcf_gz))
    sources = {}
    for label, n in (("big", a.source_records), ("small", a.source_records // 10)):
        src = w / f"source_{n}.vcf.gz"
        if not src.exists():
            plain = w / f"source_{n}.vcf"
            print(f"generating {src} ...", flush=True)
            t0 = time.monotonic()
            code = (
                "import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path; "
                "from annotation_sources import make_source; "
                f"make_source(Path({str(plain)!r}), {n}, Path({str(vcf)!r}))"
            )
            subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
            sh("bgzip", "-f", "-@", "2", str(plain))
            sh("tabix", "-f", "-p", "vcf", str(src))
            print(f"  {time.monotonic() - t0:.0f} s", flush=True)
        sources[label] = src
    print("building the compact forms ...", flush=True)
    built = {}
    for label, src in sources.items():
        r = build(src, w / f"built_{label}", a.reference_dir)
        built[label] = (w / f"built_{label}", r)
        print(
            f"  {src.name}: {src.stat().st_size / 2**20:,.1f} MiB .vcf.gz (+ "
            f"{Path(f'{src}.tbi').stat().st_size / 2**20:.1f} MiB .tbi) -> "
            f"{r['bytes'] / 2**20:,.1f} MiB compact in {r['wall']:.1f} s "
            f"({r['cpu']:.1f} CPU s, peak RSS {r['rss']:.0f} MiB); {r['stdout'].strip()}",
            flush=True,
        )
    compile_bytecode([REPO])
    tools = {
        "gas+src": gas_cmd(vcf, w / "gas_src.vcf", built["big"][0]),
        "gas+small": gas_cmd(vcf, w / "gas_small.vcf", built["small"][0]),
        "gas": gas_cmd(vcf, w / "gas.vcf", None),
        "bcftools": [
            "bcftools",
            "annotate",
            "-a",
            str(sources["big"]),
            "-c",
            "INFO/AF,INFO/SIG",
            "-Ov",
            "-o",
            str(w / "bcftools.vcf"),
            str(vcf_gz),
        ],  # fmt: skip
    }
    labels = {
        "gas+src": f"`gas annotate --source` ({a.source_records:,}-record source), all cores",
        "gas+small": f"`gas annotate --source` ({a.source_records // 10:,}-record source)",
        "gas": "`gas annotate`, no source (every default annotation)",
        "bcftools": "`bcftools annotate -a source.vcf.gz -c INFO/AF,INFO/SIG` alone",
    }
    outputs = {
        "gas+src": w / "gas_src.vcf",
        "gas+small": w / "gas_small.vcf",
        "gas": w / "gas.vcf",
        "bcftools": w / "bcftools.vcf",
    }
    runs: dict[str, list[dict]] = {k: [] for k in tools}
    load_before = os.getloadavg()
    for i in range(a.repeat):
        line = f"run {i + 1}:"
        for key, cmd in tools.items():
            outputs[key].unlink(missing_ok=True)
            os.sync()
            r = timed(cmd)
            runs[key].append(r)
            line += f"  {key} {r['wall']:.2f} s ({r['rss']:.0f} MiB)"
        print(line, flush=True)
    load_after = os.getloadavg()
    gas_hits, bcf_hits, differ = compare(outputs["gas+src"], outputs["bcftools"])
    med = {k: statistics.median(r["wall"] for r in rs) for k, rs in runs.items()}
    print(f"\nmedians of {a.repeat} interleaved runs, {a.records:,} records, whole processes:")
    print("| tool | seconds (median, min–max) | CPU s | peak RSS |")
    print("| --- | --- | --- | --- |")
    for key, rs in runs.items():
        secs = [r["wall"] for r in rs]
        cpu = statistics.median(r["cpu"] for r in rs)
        print(
            f"| {labels[key]} | {med[key]:.2f} ({min(secs):.2f}–{max(secs):.2f}) | {cpu:.2f} | "
            f"{max(r['rss'] for r in rs):.0f} MiB |"
        )
    print(f"gas --source / bcftools annotate (medians): {med['gas+src'] / med['bcftools']:.2f}")
    print(f"the source's cost inside gas: {med['gas+src'] - med['gas']:.2f} s")
    print(
        f"alleles with a value: GAS {gas_hits:,}, bcftools {bcf_hits:,}; (CHROM, POS, REF, ALT) "
        f"whose values differ: {differ} (an input record written twice: bcftools pairs the "
        "second copy with the source's next record at that position, GAS gives both the first)"
    )
    version = subprocess.run(["bcftools", "--version"], capture_output=True, text=True).stdout
    print(f"bcftools version: {version.splitlines()[0]}")
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(1 min; {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
