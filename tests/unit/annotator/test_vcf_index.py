"""The .vcf.gz's TBI built as the text is written (annotator.vcf_index) is byte for byte the one
tabix builds by reading the file back (htslib's tbx_index_build3, what GAS stored before); files
whose intervals tabix works out another way are still indexed by tabix."""

from __future__ import annotations

import ctypes
import random
import shutil
from pathlib import Path

import pytest

from annotator import outputs
from annotator.outputs import write_outputs
from annotator.vcf_index import OnTheFlyIndex
from gas import keys

NAMES = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
HEAD = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
BGZF_BLOCK_TEXT = 0xFF00  # htslib's BGZF_BLOCK_SIZE: the text of every block but the last
READ_BACK = outputs._tabix_index  # tabix's own reading of a .vcf.gz (not the spy below)


@pytest.fixture
def tabix_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files tabix had to read back (none when the index was built as they were written)."""
    runs: list[str] = []
    read_back = outputs._tabix_index

    def spy(gz: Path, csi: bool, threads: int) -> None:
        runs.append(gz.name)
        read_back(gz, csi, threads)

    monkeypatch.setattr(outputs, "_tabix_index", spy)
    return runs


def _index_is_tabixs(text: str, tmp_path: Path, **options) -> Path:
    """Write ``text``'s outputs; their index is byte for byte the one tabix reads back from the
    same .vcf.gz. Returns the index."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "annotated.vcf"
    source.write_bytes(text.encode())
    made = write_outputs(source, tmp_path / "std", NAMES, **options)
    index = made.files.get("annotated_tbi") or made.files["annotated_csi"]
    again = tmp_path / "again.vcf.gz"
    shutil.copy(made.files["annotated_gz"], again)
    READ_BACK(again, index.suffix == ".csi", 2)
    assert index.read_bytes() == Path(f"{again}{index.suffix}").read_bytes()
    return index


def _records(
    rng: random.Random, contigs: list[str], per_contig: int, samples: int, start: int = 1
) -> list[str]:
    lines = []
    for chrom in contigs:
        pos = start + rng.randint(0, 1000)
        for _ in range(per_contig):
            pos += rng.choice([0, 1, 1, 2, 7, 300, 20_000])
            ref = rng.choice(["A", "C", "GT", "TTTA", "ACGTACGTAC"])
            alleles = [a for a in ("G", "T", "A", "*", "GTT") if a != ref]
            alt = ",".join(rng.sample(alleles, rng.randint(1, 3)))
            info = ";".join(
                [f"GAS_GENE=G{rng.randint(1, 50)}", "GAS_REGION=intron", f"DP={rng.randint(1, 99)}"]
            )
            cells = "".join("\t0/1:12" for _ in range(samples))
            fmt = "\tGT:DP" if samples else ""
            lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\t{info}{fmt}{cells}\n")
    return lines


def _vcf(lines: list[str], contig_lines: int = 3, samples: int = 0) -> str:
    head = ["##fileformat=VCFv4.2\n"]
    head += [f"##contig=<ID=ctg{i},length=1000000>\n" for i in range(contig_lines)]
    head += [
        f'##INFO=<ID={key},Number=.,Type=String,Description="{key}">\n'
        for key in ("GAS_GENE", "GAS_REGION", "DP")
    ]
    head += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n']
    head += ['##FORMAT=<ID=DP,Number=1,Type=Integer,Description="DP">\n']
    columns = HEAD + ("\tFORMAT" + "".join(f"\tS{i}" for i in range(samples)) if samples else "")
    return "".join(head) + columns + "\n" + "".join(lines)


def test_a_sorted_file_is_indexed_as_written_with_tabixs_bytes(
    tmp_path: Path, tabix_runs: list[str]
) -> None:
    rng = random.Random(5)
    text = _vcf(_records(rng, ["chr1", "chr2", "chrX", "HLA-A*01:01"], 3_000, samples=3))
    assert len(text) > 8 * BGZF_BLOCK_TEXT
    _index_is_tabixs(text, tmp_path)
    assert tabix_runs == []


@pytest.mark.parametrize("threads", [1, 2])
def test_small_pieces_a_header_past_the_first_block_and_either_writer(
    threads: int, tmp_path: Path, tabix_runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first record starts blocks into the file (a header of 4,000 contigs); the text comes
    in pieces of 4 kB, so records wait for their blocks to be compressed; one BGZF thread or
    several."""
    monkeypatch.setattr(outputs, "BLOCK_BYTES", 4096)
    rng = random.Random(threads)
    text = _vcf(_records(rng, ["chr1", "chr2"], 2_000, samples=0), contig_lines=4_000)
    assert text.index("\nchr1\t") > 2 * BGZF_BLOCK_TEXT
    _index_is_tabixs(text, tmp_path, threads=threads)
    assert tabix_runs == []


def test_records_that_end_exactly_where_a_block_ends(tmp_path: Path, tabix_runs: list[str]) -> None:
    """tabix reads a record that ends at a block's last byte as ending at the next block's
    start; so does the index built as it is written."""
    head = _vcf([])
    lines: list[str] = []
    size, pos = len(head), 100
    for boundary in (BGZF_BLOCK_TEXT, 2 * BGZF_BLOCK_TEXT, 3 * BGZF_BLOCK_TEXT):
        while True:
            line = f"chr1\t{pos}\t.\tA\tG\t.\t.\tGAS_GENE=G\n"
            pos += 10
            if size + len(line) + 200 > boundary:
                break
            lines.append(line)
            size += len(line)
        pad = boundary - size - len(f"chr1\t{pos}\t.\tA\tG\t.\t.\tGAS_GENE=\n")
        line = f"chr1\t{pos}\t.\tA\tG\t.\t.\tGAS_GENE={'X' * pad}\n"
        pos += 10
        lines.append(line)
        size += len(line)
        assert size == boundary
    lines += [f"chr1\t{pos + 10 * i}\t.\tC\tT\t.\t.\t.\n" for i in range(50)]
    _index_is_tabixs(head + "".join(lines), tmp_path)
    assert tabix_runs == []


def test_a_header_only_file_gets_tabixs_empty_index(tmp_path: Path, tabix_runs: list[str]) -> None:
    _index_is_tabixs(_vcf([]), tmp_path)
    assert tabix_runs == []


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("INFO/END", lambda line: line.replace("GAS_REGION", "END=999999;GAS_REGION")),
        ("a symbolic ALT", lambda line: line.replace("\t50\t", ",<DEL>\t50\t")),
        ("a CR line end", lambda line: line.replace("\n", "\r\n")),
    ],
)
def test_a_line_tabix_reads_another_way_leaves_the_file_to_tabix(
    case: str, change, tmp_path: Path, tabix_runs: list[str]
) -> None:
    """Late in the file (the index as written is dropped) or early: tabix's bytes either way."""
    lines = _records(random.Random(9), ["chr1"], 400, samples=0)
    late = lines.copy()
    late[-1] = change(late[-1])
    _index_is_tabixs(_vcf(late), tmp_path / "late")
    early = lines.copy()
    early[0] = change(early[0])
    _index_is_tabixs(_vcf(early), tmp_path / "early")
    assert tabix_runs == ["annotated.vcf.gz", "annotated.vcf.gz"], case


def test_a_last_line_without_its_newline_is_left_to_tabix(
    tmp_path: Path, tabix_runs: list[str]
) -> None:
    text = _vcf(_records(random.Random(2), ["chr1"], 300, samples=0)).rstrip("\n")
    _index_is_tabixs(text, tmp_path)
    assert tabix_runs == ["annotated.vcf.gz"]


def test_unsorted_and_long_contig_files_are_indexed_by_tabix_after_sorting_or_as_csi(
    tmp_path: Path, tabix_runs: list[str]
) -> None:
    lines = _records(random.Random(4), ["chr1", "chr2"], 300, samples=0)
    shuffled = lines.copy()
    random.Random(4).shuffle(shuffled)
    _index_is_tabixs(_vcf(shuffled), tmp_path / "unsorted")
    far = _records(random.Random(4), ["chr1"], 300, samples=0, start=600_000_000)
    assert _index_is_tabixs(_vcf(far), tmp_path / "far").suffix == ".csi"  # past a TBI's 2^29
    assert tabix_runs == ["annotated.vcf.gz", "annotated.vcf.gz"]  # once each, after the sort


def test_an_htslib_without_the_index_calls_leaves_the_index_to_tabix(tmp_path: Path) -> None:
    """A pysam built without hts_idx_* exported would fail every job; tabix reads it back."""
    index = OnTheFlyIndex(tmp_path / "x.vcf.gz", ctypes.CDLL("libc.so.6"))
    assert not index.usable and index.tabix_reads_it
    index.add(b"chr1\t5\t.\tA\tG\t.\t.\t.\n")
    assert index.finish(index.fed) is False
