"""The reference sequence of a bundle (annotator/sequence.py), on small FASTA files the tests write:
plain, gzip and bgzip with its .fai/.gzi; chr-prefixed or not; MT under its several names."""

from __future__ import annotations

import gzip
import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pysam
import pytest

import annotator.sequence as sequence
from annotator.bundle import Bundle, canonical_contig
from annotator.exceptions import ReferenceBuildError
from annotator.sequence import (
    RCRS_FASTA,
    RCRS_LENGTH,
    add_default_sequence,
    add_sequence,
    describe_sequence,
    load_sequence,
)
from annotator.sources import build_from_gtf


def _gene(contig: str, name: str, start: int, end: int) -> str:
    attrs = f'gene_id "{name}.1"; gene_name "{name}"; gene_type "protein_coding";'
    tx = f'{attrs} transcript_id "{name}-T";'
    return (
        f"{contig}\tTEST\tgene\t{start}\t{end}\t.\t+\t.\t{attrs}\n"
        f"{contig}\tTEST\ttranscript\t{start}\t{end}\t.\t+\t.\t{tx}\n"
        f"{contig}\tTEST\texon\t{start}\t{end}\t.\t+\t.\t{tx}\n"
    )


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    """A GRCh38 bundle of three genes, on chr1, chr2 and chrM."""
    gtf = tmp_path / "model.gtf"
    gtf.write_text(
        _gene("chr1", "A", 100, 900) + _gene("chr2", "B", 50, 400) + _gene("chrM", "C", 1, 500)
    )
    out = tmp_path / "ref" / "GRCh38"
    build_from_gtf(gtf, "GRCh38", out)
    return out


def _random_bases(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGTACGTACGTacgtN") for _ in range(n))


SEQS = {
    # soft-masked runs, N and IUPAC letters, a length that is not a multiple of 4
    "chr1": _random_bases(2_001, 1) + "nnnnRYKM" + "acgt" * 10 + "NNNN",
    "chr2": _random_bases(803, 2),
    "chr7": _random_bases(50, 3),  # the bundle has no chr7
}


def write_fasta(path: Path, seqs: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as f:
        for name, seq in seqs.items():
            f.write(f">{name} a description\n")
            f.writelines(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
    return path


def bgzip_indexed(plain: Path) -> Path:
    """bgzip with its .fai and .gzi, as `bgzip` + `samtools faidx` make them."""
    gz = plain.with_name(plain.name + ".gz")
    pysam.tabix_compress(str(plain), str(gz), force=True)
    pysam.faidx(str(gz))
    assert Path(f"{gz}.fai").exists() and Path(f"{gz}.gzi").exists()
    return gz


def keys_of(bundle: Bundle, contig: str, positions) -> np.ndarray:
    return (np.int64(bundle.contig_index()[contig]) << 32) | np.asarray(positions, np.int64)


def test_plain_fasta_is_held_upper_case_with_n_and_iupac(bundle_dir, tmp_path):
    result = add_sequence(bundle_dir, write_fasta(tmp_path / "g.fa", SEQS))
    assert result.added == {"1": len(SEQS["chr1"]), "2": len(SEQS["chr2"])}
    assert result.skipped == {"chr7": "not a contig of the GRCh38 bundle"}
    bundle = Bundle(bundle_dir)
    seq = load_sequence(bundle)
    for contig, record in (("1", "chr1"), ("2", "chr2")):
        want = SEQS[record].upper().encode()
        got = seq.bases(keys_of(bundle, contig, np.arange(len(want))))
        assert got.dtype == np.uint8 and got.tobytes() == want
        assert seq.fetch(bundle.contig_index()[contig], 0, len(want)) == want
    assert b"NNNNRYKMACGT" in seq.fetch(0, 2_000, 2_020)
    grid = keys_of(bundle, "1", np.arange(2_000, 2_020).reshape(4, 5))
    assert seq.bases(grid).tobytes() == seq.fetch(0, 2_000, 2_020)


@pytest.mark.parametrize("form", ["bgzip-indexed", "bgzip-unindexed", "gzip", "plain-indexed"])
def test_every_form_of_the_fasta_gives_the_same_sequence(bundle_dir, tmp_path, form, monkeypatch):
    plain = write_fasta(tmp_path / "g.fa", SEQS, width=70)
    if form == "bgzip-indexed":
        fasta = bgzip_indexed(plain)
    elif form == "bgzip-unindexed":
        fasta = bgzip_indexed(plain)
        Path(f"{fasta}.fai").unlink()
    elif form == "gzip":
        fasta = tmp_path / "g.fa.gz"
        fasta.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        pysam.faidx(str(plain))
        fasta = plain
    indexed = form.endswith("-indexed")

    def refuse(*_a, **_k):
        raise AssertionError("read the other way")

    monkeypatch.setattr(sequence, "_records_streamed" if indexed else "_records_indexed", refuse)
    result = add_sequence(bundle_dir, fasta)
    assert set(result.added) == {"1", "2"} and "chr7" in result.skipped
    bundle = Bundle(bundle_dir)
    seq = load_sequence(bundle)
    assert seq.fetch(0, 0, len(SEQS["chr1"])) == SEQS["chr1"].upper().encode()
    assert seq.fetch(1, 0, len(SEQS["chr2"])) == SEQS["chr2"].upper().encode()
    source = seq.describe()["sources"][-1]
    assert source["file"] == fasta.name
    assert source["sha256"] == __import__("hashlib").sha256(fasta.read_bytes()).hexdigest()


def test_chunk_edges_do_not_change_the_sequence(bundle_dir, tmp_path, monkeypatch):
    # Runs of N split across chunks are joined; bases carried between chunks stay in order.
    monkeypatch.setattr(sequence, "CHUNK", 7)
    add_sequence(bundle_dir, write_fasta(tmp_path / "g.fa", SEQS, width=5))
    seq = load_sequence(Bundle(bundle_dir))
    assert seq.fetch(0, 0, len(SEQS["chr1"])) == SEQS["chr1"].upper().encode()
    other = np.load(bundle_dir / "sequence" / "other.npy")
    starts = other[0]
    assert (np.diff(starts) > 0).all()
    touching = (other[0, 1:] == other[1, :-1]) & (other[2, 1:] == other[2, :-1])
    assert not touching.any()  # one run per stretch of one letter


@pytest.mark.parametrize("mito", ["chrM", "MT", "chrMT", "M"])
def test_contig_names_with_or_without_chr_and_every_name_of_mt(bundle_dir, tmp_path, mito):
    fasta = write_fasta(tmp_path / "g.fa", {"1": "ACGT" * 5, "chr2": "GG", mito: "GATCACAGG"})
    result = add_sequence(bundle_dir, fasta)
    assert result.added == {"1": 20, "2": 2, "MT": 9}
    bundle = Bundle(bundle_dir)
    assert load_sequence(bundle).fetch(bundle.contig_index()["MT"], 0, 9) == b"GATCACAGG"


def test_a_second_copy_of_a_contig_is_skipped(bundle_dir, tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", {"chrM": "GATC", "MT": "TTTT", "chr1": "A"})
    result = add_sequence(bundle_dir, fasta)
    assert result.skipped == {"MT": "a second MT (the FASTA's chrM was used)"}
    assert load_sequence(Bundle(bundle_dir)).fetch(2, 0, 4) == b"GATC"


def test_keys_outside_what_is_held_read_n(bundle_dir, tmp_path):
    add_sequence(bundle_dir, write_fasta(tmp_path / "g.fa", {"chr1": "ACGTTGCA"}))
    bundle = Bundle(bundle_dir)
    seq = load_sequence(bundle)
    keys = np.concatenate(
        [
            keys_of(bundle, "1", [0, 7, 8, 1 << 20]),  # inside, last, past the end, far past
            keys_of(bundle, "2", [0]),  # a contig with no sequence added
            keys_of(bundle, "MT", [3]),
            np.array([(np.int64(99) << 32) | 1, -1], np.int64),  # no such contig, negative
        ]
    )
    assert seq.bases(keys).tobytes() == b"AANNNNNN"
    assert seq.bases(np.zeros(0, np.int64)).tobytes() == b""
    assert seq.bases(keys.reshape(2, 4)).tobytes() == b"AANNNNNN"
    assert seq.bases(keys_of(bundle, "1", [[0, 1], [2, 3]])).tolist() == [[65, 67], [71, 84]]
    assert seq.fetch(0, -3, 11) == b"NNNACGTTGCANNN"
    assert seq.fetch(1, 0, 4) == b"NNNN"
    assert seq.fetch(99, 0, 2) == b"NN"
    assert seq.fetch(0, 5, 5) == b""
    assert seq.length(0) == 8 and seq.length(1) == 0
    assert seq.contigs_held == ["1"]


def test_bases_is_the_same_from_many_threads(bundle_dir, tmp_path):
    add_sequence(bundle_dir, write_fasta(tmp_path / "g.fa", SEQS))
    bundle = Bundle(bundle_dir)
    seq = load_sequence(bundle)
    rng = np.random.default_rng(5)
    batches = [
        (rng.integers(0, 3, 20_000) << 32) | rng.integers(-5, 3_000, 20_000) for _ in range(32)
    ]
    batches = [np.where(b < 0, -1, b) for b in batches]
    alone = [seq.bases(b) for b in batches]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(seq.bases, batches))
        fetched = list(pool.map(lambda i: seq.fetch(0, i, i + 300), range(0, 2_000, 50)))
    assert all((a == b).all() for a, b in zip(alone, together, strict=True))
    assert fetched == [seq.fetch(0, i, i + 300) for i in range(0, 2_000, 50)]


def test_a_later_fasta_adds_contigs_and_keeps_the_others(bundle_dir, tmp_path):
    add_sequence(bundle_dir, write_fasta(tmp_path / "a.fa", {"chr1": "AAAA", "chr2": "CNNC"}))
    add_sequence(bundle_dir, write_fasta(tmp_path / "b.fa", {"chrM": "GGGGT"}))
    result = add_sequence(bundle_dir, write_fasta(tmp_path / "c.fa", {"chr1": "TTNTT"}))
    assert result.added == {"1": 5} and result.kept == ["2", "MT"]
    seq = load_sequence(Bundle(bundle_dir))
    assert (seq.fetch(0, 0, 5), seq.fetch(1, 0, 4), seq.fetch(2, 0, 5)) == (
        b"TTNTT",
        b"CNNC",
        b"GGGGT",
    )
    d = seq.describe()
    assert d["contigs"] == ["1", "2", "MT"] and d["bases"] == 14
    assert [(s["file"], s["contigs"]) for s in d["sources"]] == [
        ("a.fa", ["2"]),
        ("b.fa", ["MT"]),
        ("c.fa", ["1"]),
    ]
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["sequence"]["contigs"] == ["1", "2", "MT"]
    assert d["bytes_on_disk"] == sum(p.stat().st_size for p in (bundle_dir / "sequence").iterdir())
    assert not [
        p for p in bundle_dir.iterdir() if p.name.startswith(".sequence.") and p.is_dir()
    ]  # no temporary left behind


def test_a_rebuilt_bundle_keeps_its_sequence(bundle_dir, tmp_path):
    add_sequence(bundle_dir, write_fasta(tmp_path / "g.fa", {"chr1": "ACGTA", "chrM": "GATC"}))
    gtf = tmp_path / "other.gtf"  # a new gene model, its contigs in another order
    gtf.write_text(
        _gene("chrM", "C", 1, 500) + _gene("chr1", "A", 10, 90) + _gene("chr3", "D", 5, 9)
    )
    build_from_gtf(gtf, "GRCh38", bundle_dir)
    bundle = Bundle(bundle_dir)
    assert bundle.contigs == ["1", "3", "MT"]
    assert bundle.manifest["sequence"]["contigs"] == ["1", "MT"]
    seq = load_sequence(bundle)
    assert seq.bases(keys_of(bundle, "MT", [0, 1, 2, 3])).tobytes() == b"GATC"
    assert seq.fetch(bundle.contig_index()["1"], 0, 5) == b"ACGTA"
    assert seq.fetch(bundle.contig_index()["3"], 0, 2) == b"NN"


def test_no_sequence_is_none(bundle_dir):
    assert load_sequence(Bundle(bundle_dir)) is None
    assert describe_sequence(bundle_dir) is None


def test_a_fasta_with_none_of_the_bundles_contigs_is_refused(bundle_dir, tmp_path):
    with pytest.raises(ReferenceBuildError, match="none of the records of g.fa"):
        add_sequence(bundle_dir, write_fasta(tmp_path / "g.fa", {"chrUn_1": "ACGT"}))
    assert not (bundle_dir / "sequence").exists()
    assert [p.name for p in bundle_dir.iterdir() if p.name.startswith(".sequence.")] == [
        ".sequence.lock"
    ]


@pytest.mark.parametrize(
    "content",
    [b"ACGT\nACGT\n", b"\x00\x01binary\xff" * 10, b">chr1\nAC GT\nAC1T\n", b">chr1\nAC-T\n"],
)
def test_what_is_not_a_fasta_is_refused(bundle_dir, tmp_path, content):
    bad = tmp_path / "bad.fa"
    bad.write_bytes(content)
    with pytest.raises(ReferenceBuildError):
        add_sequence(bundle_dir, bad)
    assert load_sequence(Bundle(bundle_dir)) is None


def test_another_builds_chromosome_is_refused(bundle_dir, tmp_path):
    # GRCh37's chr1 length, declared by the index: refused before a base is read.
    fasta = write_fasta(tmp_path / "g.fa", {"chr1": "ACGT"})
    Path(f"{fasta}.fai").write_text("chr1\t249250621\t22\t4\t5\n")
    with pytest.raises(ReferenceBuildError, match="not GRCh38.*GRCh37's has 249,250,621"):
        add_sequence(bundle_dir, fasta)


def test_hg19s_chrm_is_skipped_not_taken_for_the_rcrs(bundle_dir, tmp_path):
    # Streamed, the length is known only at its end: what was written for it is dropped.
    fasta = write_fasta(tmp_path / "g.fa", {"chrM": "A" * 16_571, "chr1": "CCGGTTAA"})
    result = add_sequence(bundle_dir, fasta)
    assert result.added == {"1": 8}
    assert "not the rCRS" in result.skipped["chrM"]
    seq = load_sequence(Bundle(bundle_dir))
    assert seq.fetch(0, 0, 8) == b"CCGGTTAA"
    assert (bundle_dir / "sequence" / "bases.2bit").stat().st_size == 2


def test_rename_maps_a_record_to_a_contig(bundle_dir, tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", {"MT_human": "GATCACAGGT"})
    result = add_sequence(bundle_dir, fasta, rename={"MT_human": "MT"})
    assert result.added == {"MT": 10}


needs_rcrs = pytest.mark.skipif(
    not RCRS_FASTA.exists(),
    reason=f"{RCRS_FASTA} is missing: Debian's minimap2 package ships it (make test installs it)",
)


@needs_rcrs
def test_the_rcrs_from_minimap2_is_the_default_mt(bundle_dir):
    assert add_default_sequence(bundle_dir) is True
    assert add_default_sequence(bundle_dir) is False  # already there
    bundle = Bundle(bundle_dir)
    seq = load_sequence(bundle)
    mt = bundle.contig_index()["MT"]
    assert seq.length(mt) == RCRS_LENGTH
    assert seq.fetch(mt, 0, 16) == b"GATCACAGGTCTATCA"  # rCRS 1-16
    assert seq.fetch(mt, 3_106, 3_107) == b"A"  # 3107, N in NC_012920.1, lower-case a here
    assert seq.describe()["sources"][0]["note"].startswith("Debian package minimap2")


@needs_rcrs
def test_the_mt_ref_alleles_of_the_samples_match_the_rcrs(bundle_dir, samples):
    add_default_sequence(bundle_dir)
    bundle = Bundle(bundle_dir)
    seq = load_sequence(bundle)
    mt = bundle.contig_index()["MT"]
    checked = 0
    for name in ("test.vcf", "free_1.vcf"):
        for line in (samples / name).read_text().splitlines():
            cols = line.split("\t")
            if line.startswith("#") or canonical_contig(cols[0]) != "MT":
                continue
            pos, ref = int(cols[1]), cols[3].upper()
            assert seq.fetch(mt, pos - 1, pos - 1 + len(ref)) == ref.encode(), line
            checked += 1
    assert checked == 1_491


def test_an_index_of_another_file_is_an_error_not_a_crash(bundle_dir, tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 30})
    Path(f"{fasta}.fai").write_text("chr1\t120\t900\t60\t61\n")  # offsets past the file's end
    with pytest.raises(ReferenceBuildError):
        add_sequence(bundle_dir, fasta)
    assert load_sequence(Bundle(bundle_dir)) is None


def test_a_reader_never_sees_half_of_a_swap(bundle_dir, tmp_path, monkeypatch):
    """Loading while `add-sequence` replaces the sequence gives the old one or the new one."""
    import os
    import threading
    import time

    replace = os.replace

    def slow_replace(src, dst):  # widen the moment between the swap's two renames
        replace(src, dst)
        if Path(dst).parent.name.startswith(".sequence.old."):
            time.sleep(0.01)

    monkeypatch.setattr(sequence.os, "replace", slow_replace)
    forms = {
        b"ACGT" * 1000: write_fasta(tmp_path / "a.fa", {"chr1": "ACGT" * 1000}),
        b"TTGCA" * 500: write_fasta(tmp_path / "b.fa", {"chr1": "TTGCA" * 500}),
    }
    add_sequence(bundle_dir, forms[b"ACGT" * 1000])
    done = threading.Event()

    seen: set[bytes] = set()

    def writer() -> None:
        try:
            for i in range(12):
                form = list(forms)[i % 2]
                add_sequence(bundle_dir, forms[form])
                # Until the reader has loaded this form (it keeps loading through the next swap):
                # on a busy machine it could otherwise never run between two swaps.
                deadline = time.monotonic() + 5
                while form not in seen and time.monotonic() < deadline:
                    time.sleep(0.001)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    while not done.is_set():
        seq = load_sequence(Bundle(bundle_dir))
        assert seq is not None
        got = seq.fetch(0, 0, seq.length(0))
        assert got in forms
        seen.add(got)
    thread.join()
    assert len(seen) == 2
