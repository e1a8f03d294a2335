"""Annotator throughput on a generated 1,000,000-record sites-only GRCh38 VCF, beside bcftools.

Times, interleaved, whole processes on the same file: `gas annotate` on one core and on all cores
(blocks in threads), `bcftools view` (the floor: read and write it) and `bcftools annotate -a
genes.bed.gz` with a gene BED made from the same bundle (a real peer doing less work: gene name
only); and the consequence peers: `gas annotate` with the reference sequence added to the bundle
(a copy of it, in the cache) against `bcftools csq -f genome.fa -g genes.gff3.gz` with the GFF3
exported from the same bundle and a synthetic genome (random bases, the VCF's REF bases written
in, so every REF check passes). Prints medians, CPU time, peak memory, the speed-up and an Amdahl
projection for 16 cores. Needs the default bundles (`gas reference install-defaults`) and
Debian's bcftools + tabix.

    python benchmarks/annotator_throughput.py [--records N] [--repeat N] [--threads N]
        [--before CHECKOUT]   # also time another checkout's `gas annotate` (a round's before)
        [--tools gas1,gasN,...] [--cache DIR]   # a subset of the tools; where the genome goes
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MT_LENGTH = 16569  # rCRS, GRCh38's chrM
# bcftools 1.16 skips transcripts of biotypes it does not know; these are its names for them,
# so that it calls consequences on every transcript GAS does.
BCFTOOLS_BIOTYPES = {"lncRNA": "lincRNA", "TEC": "processed_transcript", "vault_RNA": "vaultRNA"}
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gas-bench"
GAS_TOOLS = ("gas1", "gasN", "start", "before1", "beforeN", "gasseq1", "gasseqN", "gasseqallN")
TOOLS = (*GAS_TOOLS, "view", "annotate", "csq")


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
            # Two records at one position share its REF (a genome has one base there).
            same = np.flatnonzero(pos[1:] == pos[:-1]) + 1
            for i in same.tolist():
                ref[i] = ref[i - 1]
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


def vcf_refs(vcf: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per CHROM the 1-based POS and REF bytes of a generated VCF (REFs of one base or more)."""
    pos: dict[str, list[int]] = {}
    ref: dict[str, list[bytes]] = {}
    with open(vcf, "rb") as f:
        for line in f:
            if line.startswith(b"#"):
                continue
            c, p, _, r, _ = line.split(b"\t", 4)
            name = c.decode()
            pos.setdefault(name, []).append(int(p))
            ref.setdefault(name, []).append(r.upper())
    return {c: (np.array(pos[c], np.int64), np.array(ref[c], object)) for c in pos}


def make_genome(vcf: Path, out: Path, build: str = "GRCh38", seed: int = 11) -> int:
    """A synthetic genome FASTA (+ .fai) over the build's contigs, named as in the VCF: random
    bases, with every REF of the VCF written at its position (the first record's where two
    overlap). Returns how many REF bases disagreed with an earlier record's (0 for make_vcf's)."""
    from annotator.vcf import CONTIG_LENGTHS

    rng = np.random.default_rng(seed)
    acgt = np.frombuffer(b"ACGT", np.uint8)
    refs = vcf_refs(vcf)
    conflicts = 0
    width = 60
    tmp = out.with_name(out.name + ".tmp")
    fai = []
    contigs = {**CONTIG_LENGTHS[build], "M": MT_LENGTH}  # the GFF3 has chrM's genes
    with open(tmp, "wb") as f:
        for contig, length in contigs.items():
            name = next((c for c in (f"chr{contig}", contig) if c in refs), f"chr{contig}")
            seq = acgt[rng.integers(0, 4, length, dtype=np.uint8)]
            if name in refs:
                pos, ref = refs[name]
                lens = np.fromiter((len(r) for r in ref), np.int64, len(ref))
                starts = np.repeat(np.cumsum(lens) - lens, lens)
                idx = np.repeat(pos - 1, lens) + (np.arange(int(lens.sum())) - starts)
                val = np.frombuffer(b"".join(ref), np.uint8)
                held, first = np.unique(idx, return_index=True)
                conflicts += int((val != val[first][np.searchsorted(held, idx)]).sum())
                seq[held] = val[first]
            f.write(f">{name}\n".encode())
            fai.append(f"{name}\t{length}\t{f.tell()}\t{width}\t{width + 1}\n")
            full, rest = divmod(length, width)
            lines = np.empty((full, width + 1), np.uint8)
            lines[:, :width] = seq[: full * width].reshape(full, width)
            lines[:, width] = ord("\n")
            f.write(lines.tobytes())
            if rest:
                f.write(seq[full * width :].tobytes() + b"\n")
            del seq, lines
    out.with_name(out.name + ".fai").write_text("".join(fai))
    tmp.replace(out)
    return conflicts


def _stamp(*paths: Path) -> str:
    """What a cached file was made from: the size and mtime of each input."""
    return json.dumps([[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in paths])


def _cached(out: Path, inputs: list[Path], code: str, what: str) -> Path:
    """Make ``out`` by running ``code`` in a child Python (its memory stays out of this process's
    ru_maxrss) unless it was made from the same inputs already."""
    stamp = out.with_name(out.name + ".stamp")
    want = _stamp(*inputs)
    if out.exists() and stamp.exists() and stamp.read_text() == want:
        return out
    print(f"making {what}: {out} ...", flush=True)
    t0 = time.perf_counter()
    prelude = "import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path; "
    subprocess.run([sys.executable, "-c", prelude + code], check=True, cwd=REPO)
    stamp.write_text(want)
    print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    return out


@dataclass
class ConsequenceInputs:
    """What the consequence peers read: `bcftools csq` the GFF3 and genome, GAS a reference
    directory whose GRCh38 bundle has that genome added (``sequence``: False when this checkout
    has no `gas reference add-sequence`, so the bundle there has none)."""

    gff3: Path
    fasta: Path
    reference_dir: Path
    sequence: bool


def consequence_inputs(vcf: Path, reference_dir: Path, cache: Path) -> ConsequenceInputs:
    """Make (or find in ``cache``) the consequence peers' inputs for ``vcf``."""
    cache.mkdir(parents=True, exist_ok=True)
    manifest = reference_dir / "GRCh38" / "manifest.json"
    gff = _cached(
        cache / "genes_GRCh38.gff3.gz",
        [manifest],
        "from annotator.bundle import load_bundle; from annotator.gff3 import write_gff3; "
        f"write_gff3(load_bundle(Path({str(reference_dir)!r}), 'GRCh38'), "
        f"Path({str(cache / 'genes_GRCh38.gff3.gz')!r}), chr_names=True, "
        f"rename_biotypes={BCFTOOLS_BIOTYPES!r})",
        "the GFF3 of the GRCh38 bundle",
    )
    fasta = cache / f"genome_GRCh38_{vcf.stem}.fa"
    for old in cache.glob("genome_GRCh38_*.fa"):  # 3 GB each: keep the one for this input
        if old != fasta:
            for f in (old, *old.parent.glob(old.name + ".*")):
                f.unlink()
    _cached(
        fasta,
        [vcf],
        "from annotator_throughput import make_genome; "
        f"n = make_genome(Path({str(vcf)!r}), Path({str(fasta)!r})); "
        "assert n == 0, f'{n} REF bases disagree at one position'",
        "a synthetic genome with the VCF's REF bases",
    )
    seq_dir = cache / "reference-with-sequence"
    gas = str(Path(sys.executable).with_name("gas"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAS_REFERENCE_DIR": str(seq_dir)}
    has_add = (
        subprocess.run(
            [gas, "reference", "add-sequence", "--help"], capture_output=True, env=env
        ).returncode
        == 0
    )
    if not has_add:
        print("`gas reference add-sequence` is not in this checkout: the with-sequence rows run "
              "on a copy of the bundle without sequence")  # fmt: skip
    stamp = seq_dir / "stamp"
    want = _stamp(manifest, fasta) + str(has_add)
    if not (stamp.exists() and stamp.read_text() == want):
        print(f"copying the GRCh38 bundle to {seq_dir} and adding the genome ...", flush=True)
        shutil.rmtree(seq_dir, ignore_errors=True)
        shutil.copytree(reference_dir / "GRCh38", seq_dir / "GRCh38", symlinks=True)
        if has_add:
            t0 = time.perf_counter()
            subprocess.run([gas, "reference", "add-sequence", "--build", "GRCh38", str(fasta)],
                           check=True, env=env)  # fmt: skip
            print(f"  add-sequence: {time.perf_counter() - t0:.0f} s", flush=True)
        stamp.write_text(want)
    return ConsequenceInputs(gff, fasta, seq_dir, has_add)


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
    # stderr to a file: a tool's progress notes (bcftools csq's), shown only if it fails.
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
        )
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
        err.seek(0)
        notes = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status):
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), cmd, out, notes)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
        "pss": pss,
        "stdout": out,
    }


def gas_cmd(
    vcf: Path,
    out: Path,
    threads: int,
    tree: Path = REPO,
    reference_dir: Path | None = None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The whole `gas annotate` process, as a researcher runs it (from checkout ``tree``; the
    option's old name, --processes, which every checkout knows; ``reference_dir``: another
    GAS_REFERENCE_DIR than the run's; ``extra``: more options)."""
    ref = [f"GAS_REFERENCE_DIR={reference_dir}"] if reference_dir else []
    return ["env", f"PYTHONPATH={tree}", *ref, str(Path(sys.executable).with_name("gas")),
            "annotate", str(vcf), "-o", str(out), "--processes", str(threads), *extra]  # fmt: skip


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
    p.add_argument("--cache", type=Path, default=CACHE, help=f"genome, GFF3 and the bundle with "
                   f"sequence, made once (~3.5 GB) [{CACHE}]")  # fmt: skip
    p.add_argument("--tools", default=None, help=f"only these, comma-separated: {', '.join(TOOLS)}")
    a = p.parse_args()
    wanted = set(a.tools.split(",")) if a.tools else set(TOOLS)
    if wanted - set(TOOLS):
        p.error(f"unknown tools: {', '.join(sorted(wanted - set(TOOLS)))}")
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
    csq_in = None
    if have_bcftools and wanted & {"gasseq1", "gasseqN", "gasseqallN", "csq"}:
        csq_in = consequence_inputs(vcf, a.reference_dir, a.cache)
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
    if csq_in:
        seq = csq_in.reference_dir
        tools["gasseq1"] = [*pin, *gas_cmd(vcf, a.workdir / "gasseq1.vcf", 1, reference_dir=seq)]
        tools["gasseqN"] = gas_cmd(vcf, a.workdir / "gasseqN.vcf", cores, reference_dir=seq)
        # Every transcript, as bcftools csq reports them (GAS's default: one per gene).
        tools["gasseqallN"] = gas_cmd(vcf, a.workdir / "gasseqallN.vcf", cores, reference_dir=seq,
                                      extra=("--transcripts", "all"))  # fmt: skip
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
    if csq_in:
        # -l: one record at a time, as GAS calls them (without it, csq also joins the records of
        # one codon into a haplotype, which a sites-only file has no genotypes for).
        tools["csq"] = [*pin, "bcftools", "csq", "-l", "-f", str(csq_in.fasta),
                        "-g", str(csq_in.gff3), "-Ov", "-o", str(a.workdir / "bcf_csq.vcf"),
                        str(vcf)]  # fmt: skip
    tools = {k: v for k, v in tools.items() if k in wanted}
    with_seq = "with sequence" if csq_in and csq_in.sequence else "NO sequence added"
    labels = {
        "gas1": "`gas annotate --threads 1` (1 core)",
        "gasN": f"`gas annotate --threads {cores}` (all cores)",
        "start": "`gas annotate` of the header alone (start-up, 1 core)",
        "before1": f"before: {a.before} `--threads 1` (1 core)",
        "beforeN": f"before: {a.before} `--threads {cores}` (all cores)",
        "view": "`bcftools view` (1 core)",
        "annotate": "`bcftools annotate -a genes.bed.gz` (1 core)",
        "gasseq1": f"`gas annotate --threads 1`, {with_seq} (1 core)",
        "gasseqN": f"`gas annotate --threads {cores}`, {with_seq} (all cores)",
        "gasseqallN": f"`gas annotate --threads {cores} --transcripts all`, {with_seq} (all cores)",
        "csq": "`bcftools csq -l -f genome.fa -g genes.gff3.gz` (1 core)",
    }
    gas_keys = [k for k in GAS_TOOLS if k in tools]
    outputs: dict[str, Path] = {k: a.workdir / f"{k}.vcf" for k in gas_keys}
    outputs.update(
        view=a.workdir / "view.vcf",
        annotate=a.workdir / "bcf_ann.vcf",
        csq=a.workdir / "bcf_csq.vcf",
    )
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
    for one, other in (("gas1", "gasN"), ("gas1", "before1"), ("gas1", "beforeN"),
                       ("gasseq1", "gasseqN")):  # fmt: skip
        if one in tools and other in tools:
            if not filecmp.cmp(outputs[one], outputs[other], shallow=False):
                raise SystemExit(f"GAS outputs of {one} and {other} differ")
            print(f"GAS outputs of {one} and {other}: identical")
    if csq_in and "csq" in tools:
        with open(outputs["csq"]) as f:
            n = sum(1 for ln in f if not ln.startswith("#") and "BCSQ=" in ln)
        print(f"bcftools csq annotated {n:,} of {a.records:,} records (the rest: intergenic)")
    med = {k: statistics.median(r["wall"] for r in rs) for k, rs in runs.items()}
    cpu = {k: statistics.median(r["cpu"] for r in rs) for k, rs in runs.items()}
    print(f"\nmedians of {a.repeat} interleaved runs, {a.records:,} records, whole processes:")
    print("| tool | seconds (median, min–max) | variants/s | CPU s | peak RSS | peak PSS, tree |")
    print("| --- | --- | --- | --- | --- | --- |")
    for key, rs in runs.items():
        secs = [r["wall"] for r in rs]
        rate = "—" if key == "start" else f"{a.records / med[key]:,.0f}"
        print(
            f"| {labels[key]} | {med[key]:.2f} ({min(secs):.2f}–{max(secs):.2f}) | "
            f"{rate} | {cpu[key]:.2f} | {max(r['rss'] for r in rs):.0f} MiB | "
            f"{pss[key]:.0f} MiB |"
        )
    for key in gas_keys:
        inside = statistics.median(r["inside"] for r in runs[key])
        print(f"{labels[key]}: {inside:.2f} s inside annotate_file (median)")
    # Each GAS run against the peer doing its job: gene regions against bcftools annotate,
    # consequences against bcftools csq.
    for peer, keys in (("annotate", ("gas1", "gasN", "before1", "beforeN")),
                       ("csq", ("gasseq1", "gasseqN", "gasseqallN"))):  # fmt: skip
        for key in keys:
            if key in med and peer in med:
                ratio, cpu_ratio = med[key] / med[peer], cpu[key] / cpu[peer]
                name = labels[peer].split("`")[1]
                print(f"{labels[key]} / {name} (medians): {ratio:.2f} (CPU s: {cpu_ratio:.2f})")
    if have_bcftools:
        version = subprocess.run(["bcftools", "--version"], capture_output=True, text=True).stdout
        print(f"bcftools version: {version.splitlines()[0]}")
    # Amdahl: T(P) = T(1) * (f + (1 - f) / P). f measured two ways: from the 1- and N-core
    # medians (an upper bound when other jobs take cores), and the start-up alone (a lower bound:
    # the parent's reading and writing are serial too).
    for one, many, what in (("gas1", "gasN", "coordinates only"), ("gasseq1", "gasseqN", with_seq)):
        if one in med and many in med:
            print(f"speed-up on {cores} cores, {what}: {med[one] / med[many]:.2f}x")
    if {"gas1", "gasN", "start"} <= set(med):
        fits = {"start-up only": min(med["start"] / med["gas1"], 1.0)}
        if cores > 1:
            f = (med["gasN"] / med["gas1"] - 1 / cores) / (1 - 1 / cores)
            fits[f"from the {cores}-core speed-up"] = min(max(f, 0.0), 1.0)
        for how, f in fits.items():
            t16 = med["gas1"] * (f + (1 - f) / 16)
            print(
                f"Amdahl, serial fraction {how}: f = {f:.2f}; 16 cores: "
                f"{1 / (f + (1 - f) / 16):.1f}x ({t16:.2f} s, "
                f"{t16 / med.get('annotate', float('nan')):.2f} x bcftools annotate)"
            )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(1 min; {os.cpu_count()} cores)"
    )
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
