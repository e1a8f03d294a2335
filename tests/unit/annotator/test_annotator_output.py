"""The engine's whole output, pinned byte for byte, so speed work cannot change a single character.

The digests were taken from engine 3 (consequences), bundle format 3 with the rCRS added. A
change that is meant to alter the output must update them and say why in its commit.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import annotator.vcf
from annotator import MalformedVcf, annotate_file
from annotator.bundle import load_bundle

BASES = "ACGT"
CONTIGS_38 = ["1", "2", "3", "7", "11", "17", "19", "X", "Y", "MT"]


def mixed_vcf(path: Path, reference_dir: Path, n: int = 6000, seed: int = 11) -> Path:
    """Every kind of record the engine treats differently, on and around GRCh38 genes.

    SNVs, MNVs, deletions, insertions, multi-allelic records, symbolic, breakend, '*' and missing
    ALTs, lower-case bases, long deletions across genes, INFO '.', IDs, an unknown contig, CR line
    ends and a blank line, and a few records out of order.
    """
    rng = random.Random(seed)
    b = load_bundle(reference_dir, "GRCh38")
    targets = []  # key spans to sample near: CDS, UTR, exon and splice intervals, gene starts
    for name in ("cds", "utr5", "utr3", "exon", "splice"):
        u = b.unions[name]
        targets += [(int(u[0][i]), int(u[1][i])) for i in range(0, u.shape[1], 97)]
    targets += [(int(k) - 6000, int(k) + 6000) for k in b.start_key[::53]]

    def bases(k: int) -> str:
        return "".join(rng.choice(BASES) for _ in range(k))

    def alleles() -> tuple[str, str]:
        kind = rng.random()
        ref = rng.choice(BASES)
        if kind < 0.45:
            return ref, rng.choice([c for c in BASES if c != ref])
        if kind < 0.55:
            return ref + bases(rng.randint(1, 6)), ref  # deletion
        if kind < 0.65:
            return ref, ref + bases(rng.randint(1, 9))  # insertion
        if kind < 0.70:
            r = bases(rng.randint(2, 5))
            return r, r[0] + bases(len(r) - 1)  # MNV written long
        if kind < 0.82:  # multi-allelic
            alts = {rng.choice(BASES), ref + bases(2), rng.choice(BASES) * 2}
            alts.discard(ref)
            return ref + "T", ",".join(sorted(alts))
        if kind < 0.86:
            return ref, rng.choice(["<DEL>", "<INS>", "*", ".", f"{ref}[1:{rng.randint(1, 9**9)}["])
        if kind < 0.90:
            return ref.lower() + bases(2).lower(), ref.lower()
        if kind < 0.91:
            return ref + bases(rng.randint(2000, 60000)), ref  # long deletion, across genes
        return ref, f"{rng.choice(BASES)},{ref + bases(3)},<DEL>"

    rows = []
    for i in range(n):
        if rng.random() < 0.6:
            lo, hi = rng.choice(targets)
            ci = hi >> 32
            pos = rng.randint(max(lo - (ci << 32), 0) - 10, hi - (ci << 32) + 10)
            contig = b.contigs[ci]
        else:
            contig = rng.choice(CONTIGS_38)
            pos = rng.randint(1, 150_000_000 if contig not in ("MT", "Y") else 16_000)
        ref, alt = alleles()
        ident = f"rs{i}" if rng.random() < 0.3 else "."
        info = rng.choice([".", ".", "AC=1;AN=2", "DP=30", "AC=3,1;AN=6;FLAG"])
        name = f"chr{contig}" if rng.random() < 0.95 else contig
        rows.append((name, max(pos, 1), ident, ref, alt, info))
    rows.sort(key=lambda r: (r[0], r[1]))
    rows[100], rows[101] = rows[101], rows[100]  # a few out of order
    rows.insert(2000, ("chrUn_KI270302v1", 3, "rs_un", "A", "G", "."))
    rows.insert(2001, ("HLA-A*01:01:01:01", 30, ".", "C", "T", "."))
    lines = [f"{c}\t{p}\t{i}\t{r}\t{a}\t50\tPASS\t{f}\n" for c, p, i, r, a, f in rows]
    lines[3000] = lines[3000].replace("\n", "\r\n")
    lines.insert(4000, "\n")
    path.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh38\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(lines)
    )
    return path


def digests(out: Path) -> dict[str, str]:
    """sha256 of the VCF, the count log and the summary, without their run times."""
    log = [ln for ln in (out / "a.count.log").read_text().splitlines() if "time:" not in ln]
    summary = json.loads((out / "a.summary.json").read_text())
    summary.pop("seconds")
    return {
        "vcf": hashlib.sha256((out / "a.vcf").read_bytes()).hexdigest(),
        "log": hashlib.sha256("\n".join(log).encode()).hexdigest(),
        "summary": hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest(),
    }


def annotate(src: Path, out: Path, reference_dir: Path, **kw) -> dict[str, str]:
    annotate_file(
        src,
        out / "a.vcf",
        out / "a.count.log",
        out / "a.summary.json",
        reference_dir=reference_dir,
        **kw,
    )
    return digests(out)


# Since annotation sources (issue 24): each output is the one before without the GAS_KNOWN_ID
# header line (a source declares its own fields), each summary has "sources": []; with known
# sites (the source `known`), the same IDs per allele, and one more on a contig the bundle lacks
# (now matched, as bcftools does).
PINNED = {
    "test.vcf": {
        "vcf": "016607a89b8aeb3e273f521a78fb6e0c6fd6123154ecf46aa6caec63595c1c2f",
        "log": "6aa996fdd8963029d36e4d52a37b31822901509c8ece1de21b32b9a397bf4521",
        "summary": "51eef3e88834ed8cf7b4748dceb57a224eade8f6f1ea5c1e905f9d46494705f9",
    },
    "free_1.vcf": {
        "vcf": "fdf46d7dc87934989aed244cb60e924b7cf28043bbdcf37ec4eb3fa3e9e386b6",
        "log": "67dc705486f9ca149fb09b676a5dcccb2f8d24a2bf198fa4948dade968aafca2",
        "summary": "4c4650bcd3e2d4150770872f0b054bf2da7838c550050b7485d1b78d9a4cb213",
    },
    "premium_2.vcf": {
        "vcf": "62304d2d8dadc0cc59ceabf6070de54eedcd44a01147d3159f6a6abe618feeea",
        "log": "40b1b6a8c6e89b5b6d6aa7d494f7bcbd0ad7b53c23b39d2e850a70b370a564c9",
        "summary": "d5b9a13083b3d6d8b16a5b72566f4474300535f8122cd553ccb8164def9448c6",
    },
    "mixed": {
        "vcf": "9c636448c1d86d4aa748a65f2b674ffb3c8644f8ad15bb7c1155a3cee4c6a8fc",
        "log": "8567bba73fe6bbe84a4c5bc9ee6c00fd7e2eb93a2c092d845004f0bde5dc2027",
        "summary": "e07e458951c8588de714c767097165b57fafce6f23f272edf33bf28c74d4c4b4",
    },
    "mixed+known": {
        "vcf": "3965db6dcd050f7967834794bdb230e56617eeb5d13639c5d2a01aebdb707d43",
        "log": "10f06432ee92e7a0cd73c525bc8473b6987c57027ff1a897b93282f6303540d8",
        "summary": "654a06dcc6d65d88597c60af86d6e679f58e54944a95811ac0b10f3dc6765bab",
    },
}


@pytest.fixture(scope="module")
def mixed(reference_dir, tmp_path_factory) -> Path:
    return mixed_vcf(tmp_path_factory.mktemp("mixed") / "mixed.vcf", reference_dir)


@pytest.mark.parametrize("name", ["test.vcf", "free_1.vcf", "premium_2.vcf"])
def test_sample_output_is_pinned(name, samples, reference_dir, tmp_path):
    assert annotate(samples / name, tmp_path, reference_dir) == PINNED[name]


def test_mixed_output_is_pinned_in_any_block_size(mixed, reference_dir, tmp_path, monkeypatch):
    assert annotate(mixed, tmp_path / "one", reference_dir) == PINNED["mixed"]
    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 4096)  # ~120 blocks, split anywhere
    assert annotate(mixed, tmp_path / "many", reference_dir) == PINNED["mixed"]


def test_known_id_output_is_pinned(mixed, reference_dir, tmp_path, known_source):
    known = tmp_path / "known.vcf"
    body = [ln for ln in mixed.read_text().splitlines(keepends=True) if "\trs" in ln]
    known.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    with known.open("a") as f:
        f.writelines(body[::2])
    got = annotate(mixed, tmp_path / "out", reference_dir, sources=[known_source(known)])
    assert got == PINNED["mixed+known"]


# ----------------------------------------------------------------------------- threads


def test_threads_give_the_same_output_as_one(mixed, reference_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 4096)  # ~120 blocks over 3 threads
    assert annotate(mixed, tmp_path / "t3", reference_dir, threads=3) == PINNED["mixed"]
    got = annotate(mixed, tmp_path / "all", reference_dir, threads=None)
    assert got == PINNED["mixed"]
    # gzip output, and gzip input (read in this thread, not by the annotating ones).
    out = tmp_path / "gz"
    annotate_file(
        mixed, out / "a.vcf.gz", out / "l", out / "s", reference_dir=reference_dir, threads=2
    )
    plain = hashlib.sha256(gzip.decompress((out / "a.vcf.gz").read_bytes())).hexdigest()
    assert plain == PINNED["mixed"]["vcf"]
    packed = tmp_path / "mixed.vcf.gz"
    packed.write_bytes(gzip.compress(mixed.read_bytes()))
    got = annotate(packed, tmp_path / "in-gz", reference_dir, threads=2)
    assert got["vcf"] == PINNED["mixed"]["vcf"]  # the log and summary name the input file


def test_threads_meeting_the_same_new_gene_union_agree_on_it(reference_dir, tmp_path, monkeypatch):
    # A span crossing genes gets a gene set made on the spot (the one thing blocks share and add
    # to). Every block here meets the same few such spans, in threads at once: each union is made
    # once, every line names it, and its genes count once, as with one thread.
    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 2048)
    g = load_bundle(reference_dir, "GRCh38").genes.to_pydict()
    on_17 = sorted((s, e) for c, s, e in zip(g["contig"], g["start"], g["end"], strict=True)
                   if c == "17")  # fmt: skip
    # Deletions from 20 bases before one gene's end to 20 after the next one's start.
    pairs = zip(on_17, on_17[1:], strict=False)
    spans = [(a[1] - 20, b[0] + 20) for a, b in pairs if 0 < b[0] - a[1] < 300]
    assert len(spans) > 10
    head = "##fileformat=VCFv4.2\n##reference=GRCh38\n" + "\t".join(
        ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO\n"]
    )
    rows = sorted(spans[:10] * 40)
    body = "".join(f"17\t{s}\t.\t{'A' * (e - s)}\tA\t.\t.\t.\n" for s, e in rows)
    src = tmp_path / "spans.vcf"
    src.write_text(head + body)
    one = annotate(src, tmp_path / "one", reference_dir, threads=1)
    lines = (tmp_path / "one" / "a.vcf").read_text().splitlines()
    genes = [ln.split("GAS_GENE=")[1].split(";")[0] for ln in lines if not ln.startswith("#")]
    assert len(genes) == 400 and all("|" in g for g in genes)  # 2 genes or more each
    for n in (2, 4, 8):
        assert annotate(src, tmp_path / f"t{n}", reference_dir, threads=n) == one


def test_threads_report_the_first_bad_line_and_leave_no_output(
    mixed, reference_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 4096)
    lines = mixed.read_text().splitlines(keepends=True)
    lines[3500] = lines[3500].replace("\t", " ", 1)  # too few columns, in a middle block
    lines[5000] = "chr1\tx\t.\tA\tG\t.\t.\t.\n"  # and a later bad POS
    bad = tmp_path / "bad.vcf"
    bad.write_text("".join(lines))
    out = tmp_path / "out"
    with pytest.raises(MalformedVcf, match="Line 3501 has 7 tab-separated column"):
        annotate(bad, out, reference_dir, threads=2)
    assert list(out.iterdir()) == []


def test_threads_stop_when_progress_raises(mixed, reference_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 4096)
    seen = []

    def progress(done: int) -> None:
        seen.append(done)
        if len(seen) == 5:
            raise RuntimeError("cancelled")

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="cancelled"):
        annotate(mixed, out, reference_dir, threads=2, progress=progress)
    assert seen == sorted(seen) and len(seen) == 5
    assert list(out.iterdir()) == []


def test_annotations_in_threads_of_one_process_keep_their_own_files(
    mixed, samples, reference_dir, tmp_path, monkeypatch
):
    # The annotate activity runs tasks in threads, each of which may annotate in threads.
    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 4096)
    jobs = {"mixed": mixed, "premium_2.vcf": samples / "premium_2.vcf"}
    with ThreadPoolExecutor(2) as tasks:
        got = {
            name: tasks.submit(annotate, src, tmp_path / name, reference_dir, threads=2)
            for name, src in jobs.items()
        }
    assert {name: f.result() for name, f in got.items()} == {name: PINNED[name] for name in jobs}


def test_gz_output_is_gzip(samples, reference_dir, tmp_path):
    # The temporary file's name ends in .partial-<pid>: gzip was once decided on it, so never.
    out = tmp_path / "a.vcf.gz"
    annotate_file(
        samples / "test.vcf", out, tmp_path / "l", tmp_path / "s", reference_dir=reference_dir
    )
    plain = hashlib.sha256(gzip.decompress(out.read_bytes())).hexdigest()
    assert plain == PINNED["test.vcf"]["vcf"]
