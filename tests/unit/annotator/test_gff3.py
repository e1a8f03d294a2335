"""The GFF3 a bundle exports: GENCODE's CDS phases, read back into the same bundle, IDs stable,
and accepted by Debian's `bcftools csq` (which calls codons from it as the GTF says)."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from annotator.bundle import Bundle, load_bundle
from annotator.gff3 import (
    SYNTHETIC_TRANSCRIPT,
    cds_phases,
    structure_ids,
    transcript_ids,
    write_gff3,
)
from annotator.sources import build_from_gtf
from cli.annotator_commands import register
from gas.settings import Settings


def cli() -> click.Group:
    @click.group()
    def gas() -> None:
        pass

    register(gas)
    return gas


@pytest.fixture(scope="module")
def gtf_bundle(gencode_gtf, tmp_path_factory) -> Bundle:
    out = tmp_path_factory.mktemp("ref") / "GRCh38"
    build_from_gtf(gencode_gtf, "GRCh38", out)
    return Bundle(out)


@pytest.fixture(scope="module")
def gff3(gtf_bundle, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gff3") / "genes.gff3"
    write_gff3(gtf_bundle, path)
    return path


def _gtf_cds(gtf: Path) -> tuple[dict[str, list[tuple[int, int, str, str]]], dict[str, set]]:
    """CDS rows (start, end, frame, strand) and tags per transcript, straight from the GTF."""
    cds: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    tags: dict[str, set] = {}
    with gzip.open(gtf, "rt") as f:
        for line in f:
            if line.startswith("#"):
                continue
            c = line.rstrip("\n").split("\t")
            tid = re.search(r'transcript_id "([^"]+)"', c[8])
            if c[2] == "CDS":
                cds[tid.group(1)].append((int(c[3]), int(c[4]), c[7], c[6]))
            elif c[2] == "transcript":
                tags[tid.group(1)] = set(re.findall(r'tag "([^"]+)"', c[8]))
    return cds, tags


def _gff3_rows(path: Path, kind: str) -> dict[str, list[tuple[int, int, str]]]:
    rows: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        c = line.split("\t")
        if len(c) == 9 and c[2] == kind:
            tid = re.search(r"Parent=transcript:([^;]+)", c[8]).group(1)
            rows[tid].append((int(c[3]), int(c[4]), c[7]))
    return rows


def test_cds_phases_in_transcript_order():
    assert cds_phases([5, 4, 10]) == [0, 1, 0]  # 5 bases: 1 codon + 2; the next one needs 1
    assert cds_phases([7, 3], start_offset=1) == [1, 0]


def test_cds_phases_are_gencodes_frames(gencode_gtf, gff3):
    """Each CDS segment's phase is the GTF's frame, at the segment's 5' end (the stop codon our
    CDS adds moves only a 3' end). Only a transcript incomplete at both ends may differ: the
    bundle does not keep where its first codon starts."""
    gtf, tags = _gtf_cds(gencode_gtf)
    ours = _gff3_rows(gff3, "CDS")
    differ = set()
    for tid, rows in gtf.items():
        five = {(s if strand == "+" else e): frame for s, e, frame, strand in rows}
        got = {(s if rows[0][3] == "+" else e): p for s, e, p in ours[tid]}
        if any(got.get(k) != v for k, v in five.items()):
            differ.add(tid)
    assert len(gtf) > 150
    assert differ
    assert all({"cds_start_NF", "cds_end_NF"} <= tags[t] for t in differ)


def test_export_reads_back_into_the_same_bundle(gtf_bundle, gff3, tmp_path):
    again = Bundle(build_from_gtf(gff3, "GRCh38", tmp_path / "GRCh38"))
    a, b = gtf_bundle.transcripts, again.transcripts
    assert a.table.equals(b.table)  # IDs, biotypes, MANE/canonical tags, cds_start/end_NF
    for name in ("span", "cds", "exon_offset", "exons", "gene_offset"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert gtf_bundle.genes.equals(again.genes)
    for name in ("cds", "exon"):
        assert np.array_equal(gtf_bundle.unions[name], again.unions[name]), name


def test_lines_follow_ensembls_gff3(gff3):
    text = gff3.read_text()
    assert text.startswith("##gff-version 3\n")
    samd11 = re.search(r"\tID=gene:([^;]+);Name=SAMD11;biotype=protein_coding", text)
    assert samd11
    tx = re.findall(rf"\tmRNA\t.*ID=transcript:([^;]+);Parent=gene:{samd11.group(1)};", text)
    assert tx
    assert "\tthree_prime_UTR\t" in text and "\tfive_prime_UTR\t" in text
    ranks = [int(m) for m in re.findall(rf"\texon\t.*Parent=transcript:{tx[0]};.*rank=(\d+)", text)]
    assert sorted(ranks) == list(range(1, len(ranks) + 1))


def test_transcripts_without_ids_get_stable_synthetic_ones(gencode_gtf, tmp_path):
    """A transcript the source names no ID for (every one in the default GRCh37 bundle) gets one
    from its structure alone: unique, and the same when the source lists it otherwise."""
    with gzip.open(gencode_gtf, "rt") as f:
        text = f.read()
    names = sorted(set(re.findall(r'transcript_id "([^"]+)"', text)))
    renamed = {n: f"T{len(names) - i:06d}" for i, n in enumerate(names)}  # reverses the order

    def synthetic(gtf_text: str, name: str) -> tuple[list[str], list[str]]:
        path = tmp_path / f"{name}.gtf"
        path.write_text(gtf_text)
        t = Bundle(build_from_gtf(path, "GRCh38", tmp_path / name / "GRCh38"))
        own = t.transcripts.table["transcript_id"].to_pylist()
        t.transcripts.table = t.transcripts.table.set_column(
            1, "transcript_id", pa.array([""] * len(own))
        )
        return own, structure_ids(t)

    own_a, ids_a = synthetic(text, "a")
    other = re.sub(
        r'transcript_id "([^"]+)"', lambda m: f'transcript_id "{renamed[m.group(1)]}"', text
    )
    own_b, ids_b = synthetic(other, "b")
    assert {renamed[o]: i for o, i in zip(own_a, ids_a, strict=True)} == dict(
        zip(own_b, ids_b, strict=True)
    )
    assert all(i.startswith(SYNTHETIC_TRANSCRIPT) for i in ids_a)
    assert len(set(ids_a)) == len(ids_a)


def test_default_bundles_export(reference_dir, tmp_path):
    """The CLI writes every transcript of a default bundle (GRCh37: none has an ID)."""
    s = replace(Settings(), reference_dir=reference_dir, state_dir=tmp_path)
    out = tmp_path / "grch37.gff3.gz"
    r = CliRunner().invoke(
        cli(), ["reference", "export-gff3", "--build", "GRCh37", "--chr-names", str(out)], obj=s
    )
    assert r.exit_code == 0, r.output
    n = load_bundle(reference_dir, "GRCh37").transcripts.table.num_rows
    assert f"{n} transcripts written" in r.output
    with gzip.open(out, "rt") as f:
        head = [next(f) for _ in range(40)]
    assert any(ln.startswith("chr1\t") for ln in head)
    assert any("ID=transcript:GAST" in ln for ln in head)
    ids = transcript_ids(load_bundle(reference_dir, "GRCh37"))
    assert len(set(ids)) == len(ids) == n


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="Debian's bcftools not installed")
def test_bcftools_csq_reads_it_and_calls_codons_where_the_gtf_puts_them(
    gencode_gtf, gtf_bundle, gff3, tmp_path
):
    """`bcftools csq` indexes every transcript without a warning; on a random genome, its
    protein position for a SNV in each complete CDS (one record at a time: -l) is the one the
    GTF's CDS rows give."""
    gtf, tags = _gtf_cds(gencode_gtf)
    rng = np.random.default_rng(3)
    length = int(gtf_bundle.genes["end"].to_numpy().max()) + 1000
    genome = np.array(list(b"ACGT"), np.uint8)[rng.integers(0, 4, length)]
    fasta = tmp_path / "genome.fa"
    fasta.write_bytes(
        b">1\n" + b"\n".join(genome[i : i + 60].tobytes() for i in range(0, length, 60))
    )
    expect = {}  # (pos, transcript) -> protein position
    for tid, rows in sorted(gtf.items()):
        if tags[tid] & {"cds_start_NF", "cds_end_NF"}:
            continue
        strand = rows[0][3]
        bases = [p for s, e, _, _ in sorted(rows) for p in range(s, e + 1)]
        if strand == "-":
            bases = bases[::-1]
        for k in (0, len(bases) // 3, len(bases) - 4):  # first codon, middle, last sense codon
            expect[(bases[k], tid)] = k // 3 + 1
    swap = dict(zip(b"ACGT", b"CATG", strict=True))
    vcf = tmp_path / "in.vcf"
    positions = sorted({p for p, _ in expect})
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(
            f"1\t{p}\t.\t{chr(genome[p - 1])}\t{chr(swap[genome[p - 1]])}\t.\t.\t.\n"
            for p in positions
        )
    )
    out = tmp_path / "out.vcf"
    r = subprocess.run(
        ["bcftools", "csq", "-l", "-f", str(fasta), "-g", str(gff3), "-o", str(out), str(vcf)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    n = gtf_bundle.transcripts.table.num_rows
    assert f"Indexed {n} transcripts" in r.stderr
    assert "warning" not in r.stderr.lower(), r.stderr
    found = {}
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        c = line.split("\t")
        for block in re.search(r"BCSQ=([^;\t]+)", c[7]).group(1).split(","):
            p = block.lstrip("*").split("|")
            if len(p) > 5 and p[5] and (int(c[1]), p[2]) in expect:
                found[(int(c[1]), p[2])] = int(re.match(r"\d+", p[5]).group())
    assert len(expect) > 300
    assert found == expect
