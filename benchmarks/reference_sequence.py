"""What a bundle's reference sequence costs: adding a genome FASTA, its size, and lookups.

Writes a synthetic genome with GRCh38's chromosome lengths (times ``--scale``): random bases,
N telomeres, centromeres and gaps, soft-masked runs, a few IUPAC letters, 60-column lines. Adds it
to a copy of the installed GRCh38 bundle, read from start to end and then through a .fai (pysam),
checks random windows against pysam's own ``fetch``, and times ``bases()`` on 10 M keys in the
bundle's exons (sorted, shuffled) and anywhere, and ``fetch()`` of 600 bases. Also prints what
other choices of what to keep would take, measured on the bundle's transcripts.

    python benchmarks/reference_sequence.py [--scale 1.0] [--keys 10000000] [--workdir DIR]

At scale 1 it needs ~4 GB of disk in the work directory.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from annotator.bundle import Bundle, _merge, bundle_path
from annotator.sequence import load_sequence
from annotator.vcf import CONTIG_LENGTHS
from gas.settings import Settings


def write_genome(path: Path, scale: float, seed: int = 7) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGTacgt", np.uint8)
    lengths = {f"chr{c}": max(int(n * scale), 1000) for c, n in CONTIG_LENGTHS["GRCh38"].items()}
    lengths["chrM"] = 16569
    with open(path, "wb") as f:
        for name, n in lengths.items():
            f.write(f">{name} LN:{n}\n".encode())
            seq = letters[rng.integers(0, 4, n, dtype=np.uint8)]
            for s in rng.integers(0, n, max(n // 100_000, 1)):
                seq[s : s + 300] |= 0x20  # soft-masked
            if n > 1_000_000:
                seq[:10_000] = seq[-10_000:] = ord("N")
                c = n // 3
                seq[c : c + n // 80] = ord("N")  # a centromere
                for s in rng.integers(0, n, 30):
                    seq[s : s + int(rng.integers(1, 50_000))] = ord("N")
                seq[rng.integers(0, n, 3)] = ord("R")
            pad = (-n) % 60
            body = np.concatenate([seq, np.full(pad, 10, np.uint8)]).reshape(-1, 60)
            text = np.hstack([body, np.full((len(body), 1), 10, np.uint8)]).tobytes()
            f.write(text[: len(text) - pad] if pad else text)
    return lengths


def add_in_a_process(bundle_dir: Path, fasta: Path) -> tuple[float, float]:
    """`add_sequence` in a fresh process: its seconds and its own peak RSS (MB), read from its
    VmHWM (a child's ru_maxrss would count the pages of this process it was forked from)."""
    code = (
        "import re, sys; from annotator.sequence import add_sequence; "
        "s = add_sequence(sys.argv[1], sys.argv[2]).seconds; "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(s, hwm)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(bundle_dir), str(fasta)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, hwm_kb = out.stdout.split()
    return float(seconds), int(hwm_kb) / 1024


def alternatives(bundle: Bundle) -> None:
    t = bundle.transcripts
    total = sum(CONTIG_LENGTHS[bundle.build].values()) + 16569
    rows = [("whole chromosomes", total)]
    gene = _merge(bundle.start_key - 5000, bundle.end_key + 5000)
    rows.append(("every gene +- 5 kb", int((gene[1] - gene[0]).sum())))
    for margin in (1000, 0):
        u = _merge(t.span[0] - margin, t.span[1] + margin)
        rows.append((f"every transcript +- {margin}", int((u[1] - u[0]).sum())))
    for margin in (2000, 500, 200, 0):
        u = _merge(t.exons[0] - margin, t.exons[1] + margin)
        rows.append((f"every exon +- {margin}", int((u[1] - u[0]).sum())))
    print(f"\nwhat would be kept ({bundle.build}, {t.span.shape[1]:,} transcripts):")
    for label, bases in rows:
        print(
            f"  {label:28s} {bases / 1e6:8,.0f} Mb  1 byte: {bases / 2**20:6,.0f} MiB  "
            f"2 bits: {bases / 4 / 2**20:5,.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    source = bundle_path(Settings.from_env().reference_dir, "GRCh38")
    work = Path(tempfile.mkdtemp(prefix="gas-seq-bench.", dir=args.workdir))
    try:
        bundle_dir = work / "ref" / "GRCh38"
        shutil.copytree(source, bundle_dir, ignore=shutil.ignore_patterns("sequence"))
        fasta = work / "genome.fa"
        t0 = time.perf_counter()
        lengths = write_genome(fasta, args.scale)
        print(
            f"synthetic genome: {sum(lengths.values()):,} bases, {fasta.stat().st_size:,} bytes "
            f"({time.perf_counter() - t0:.0f} s to write)"
        )
        import pysam

        for how in ("streamed", ".fai (pysam)"):
            if how != "streamed":
                pysam.faidx(str(fasta))
            seconds, peak = add_in_a_process(bundle_dir, fasta)
            print(f"add-sequence, {how:14s} {seconds:6.1f} s  (peak RSS {peak:,.0f} MB)")
        bundle = Bundle(bundle_dir)
        t0 = time.perf_counter()
        seq = load_sequence(bundle)
        assert seq is not None, "the sequence was just added"
        print(f"on disk: {seq.describe()['bytes_on_disk'] / 2**20:,.1f} MiB")
        print(f"load_sequence: {1e3 * (time.perf_counter() - t0):.1f} ms")
        fa = pysam.FastaFile(str(fasta))
        index = bundle.contig_index()
        rng = np.random.default_rng(1)
        for name, n in lengths.items():
            contig = index["MT" if name == "chrM" else name[3:]]
            for _ in range(20):
                a = int(rng.integers(0, n))
                z = min(a + int(rng.integers(1, 5000)), n)
                assert seq.fetch(contig, a, z) == fa.fetch(name, a, z).upper().encode()
        print("checked: 20 random windows a contig equal pysam's fetch, upper-cased")
        exons = bundle.transcripts.exons
        n = args.keys
        inside = exons[0][rng.integers(0, exons.shape[1], n)] + rng.integers(0, 200, n)
        inside.sort()
        anywhere = (rng.integers(0, 24, n) << 32) | rng.integers(0, int(50e6 * args.scale), n)
        for label, keys in (
            ("keys in exons, sorted", inside),
            ("keys in exons, shuffled", rng.permutation(inside)),
            ("keys anywhere", anywhere),
        ):
            seq.bases(keys[:1000])
            best = min(_timed(seq.bases, keys) for _ in range(5))
            print(f"bases(), {n:,} {label}: {best:.3f} s ({n / best / 1e6:.0f} M/s)")
        t0 = time.perf_counter()
        for j in range(100_000):
            seq.fetch(0, 1_000_000 + 97 * j, 1_000_600 + 97 * j)
        print(f"fetch() of 600 bases: {(time.perf_counter() - t0) * 10:.1f} us")
        alternatives(bundle)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _timed(f, *a) -> float:
    t0 = time.perf_counter()
    f(*a)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
