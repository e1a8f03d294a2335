"""The standard outputs: bgzipped VCF + index (checked with Debian's bcftools and tabix), the
per-allele TSV, the Parquet sidecar and the gene summary, from a real annotation."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotator import annotate_file
from annotator.outputs import COLUMNS, ROW_GROUP_ROWS, write_outputs
from gas import keys

BIO_TOOLS = ("bcftools", "tabix")
NAMES = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
# GRCh38: TP53 (a multi-allelic record), BRCA1, an intergenic site, chr1 and an insertion, with a
# known ID in the ID column; in position order per chromosome.
RECORDS = [
    "chr1 69270 . A G . PASS .",
    "chr1 925952 rs1 G A,C . PASS .",
    "chr1 30000000 . T TA . PASS .",
    "chr17 7670590 . AAAAAAAAAAAAAAAAAAAAAAAAA TAAAAAAAAAAAAAAAAAAAAAAAA,A . PASS .",
    "chr17 7675088 rs28934578 C T . PASS .",
    "chr17 43045712 . T C . PASS .",
    "chr17 43094464 rs80357906 A G,T,C . PASS .",
    "chr17 43124100 . G A . PASS .",
]
HEADER = "##fileformat=VCFv4.2\n##reference=GRCh38\n"


def _need_bio_tools() -> None:
    missing = [tool for tool in BIO_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: run `make setup-bio-tools`")


def _annotate(reference_dir: Path, source: Path, out: Path) -> Path:
    annotated = out / "annotated.vcf"
    annotate_file(
        source,
        annotated,
        out / "a.count.log",
        out / "a.summary.json",
        build="GRCh38",
        reference_dir=reference_dir,
    )
    return annotated


def _bcftools_records(path: Path) -> list[str]:
    run = subprocess.run(["bcftools", "view", "-H", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def _tsv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture
def annotated(reference_dir: Path, write_vcf, tmp_path: Path) -> Path:
    return _annotate(reference_dir, write_vcf(RECORDS, HEADER), tmp_path / "out")


def test_the_bgzipped_vcf_has_the_plain_outputs_records_and_a_working_index(
    annotated: Path, tmp_path: Path
) -> None:
    _need_bio_tools()
    made = write_outputs(annotated, tmp_path / "std", NAMES)
    gz = made.files["annotated_gz"]
    assert set(made.files) == {"annotated_gz", "annotated_tbi", "tsv", "parquet", "genes"}
    assert made.files["annotated_tbi"].name == "annotated.vcf.gz.tbi"
    assert gz.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # gzip with the BGZF extra field
    plain = _bcftools_records(annotated)
    assert len(plain) == len(RECORDS)
    assert _bcftools_records(gz) == plain
    # tabix answers a region from the index: exactly the records bcftools sees there.
    region = subprocess.run(
        ["tabix", str(gz), "chr17:43000000-43200000"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    in_region = [
        line
        for line in annotated.read_text().splitlines()
        if line.startswith("chr17\t") and 43_000_000 <= int(line.split("\t")[1]) <= 43_200_000
    ]
    assert region == in_region and len(region) == 3
    header = subprocess.run(
        ["bcftools", "view", "-h", str(gz)], capture_output=True, text=True, check=True
    ).stdout
    assert "##INFO=<ID=GAS_REGION" in header


def test_an_unsorted_result_is_sorted_for_the_index_and_every_output_follows(
    reference_dir: Path, write_vcf, tmp_path: Path
) -> None:
    _need_bio_tools()
    shuffled = [RECORDS[i] for i in (5, 0, 7, 3, 1, 6, 2, 4)]
    annotated = _annotate(reference_dir, write_vcf(shuffled, HEADER), tmp_path / "out")
    made = write_outputs(annotated, tmp_path / "std", NAMES)
    assert not made.sorted_input
    gz_records = _bcftools_records(made.files["annotated_gz"])
    assert sorted(gz_records) == sorted(_bcftools_records(annotated))
    positions = [(line.split("\t")[0], int(line.split("\t")[1])) for line in gz_records]
    assert positions == sorted(positions, key=lambda p: (p[0] != "chr1", p[1]))
    tsv = _tsv_rows(made.files["tsv"])
    assert [(r["chrom"], int(r["pos"])) for r in tsv] == sorted(
        ((r["chrom"], int(r["pos"])) for r in tsv), key=lambda p: (p[0] != "chr1", p[1])
    )


def test_the_tsv_has_one_row_per_alt_allele_with_its_own_annotation(
    annotated: Path, tmp_path: Path
) -> None:
    made = write_outputs(annotated, tmp_path / "std", NAMES)
    rows = _tsv_rows(made.files["tsv"])
    assert list(rows[0]) == list(COLUMNS)
    expected = []
    for line in annotated.read_text().splitlines():
        if line.startswith("#"):
            continue
        chrom, pos, _id, ref, alt, *_ = line.split("\t")
        info = dict(kv.partition("=")[::2] for kv in line.split("\t")[7].split(";"))
        for i, allele in enumerate(alt.split(",")):
            expected.append((chrom, pos, ref, allele, info["GAS_REGION"].split(",")[i]))
    assert [(r["chrom"], r["pos"], r["ref"], r["alt"], r["region"]) for r in rows] == expected
    assert len(rows) == made.alleles == len(RECORDS) + 1 + 1 + 2  # three multi-allelic records
    tp53 = [r for r in rows if r["pos"] == "7670590"]
    assert [r["region"] for r in tp53] == ["intron", "CDS"]
    assert {r["gene"] for r in tp53} == {"TP53"}
    assert all(r["gene_id"].startswith("ENSG") for r in tp53)
    brca1 = [r for r in rows if r["pos"] == "43094464"]
    assert [r["alt"] for r in brca1] == ["G", "T", "C"] and {r["gene"] for r in brca1} == {"BRCA1"}
    assert next(r for r in rows if r["pos"] == "7675088")["id"] == "rs28934578"
    intergenic = next(r for r in rows if r["pos"] == "30000000")
    assert intergenic["region"] == "intergenic" and int(intergenic["distance"]) > 0
    # Absent values are empty cells, not VCF dots: a spreadsheet sorts and filters them.
    assert all(value != "." for row in rows for value in row.values())


def test_the_parquet_sidecar_has_the_tsv_rows_typed(annotated: Path, tmp_path: Path) -> None:
    made = write_outputs(annotated, tmp_path / "std", NAMES)
    table = pq.read_table(made.files["parquet"])
    assert str(table.schema.field("pos").type) == "int64"
    assert str(table.schema.field("distance").type) == "int64"
    as_text = [
        ["" if row[c] is None else str(row[c]) for c in COLUMNS] for row in table.to_pylist()
    ]
    assert as_text == [list(r.values()) for r in _tsv_rows(made.files["tsv"])]
    indexes = table.column("chrom_index").to_pylist()
    assert indexes == sorted(indexes) and set(indexes) == {0, 1}


def test_row_groups_are_in_position_order_so_ranges_prune(tmp_path: Path) -> None:
    # Big enough for several row groups; sites-only records written as the engine writes them.
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for chrom in ("1", "2"):
        for i in range(ROW_GROUP_ROWS):
            lines.append(
                f"{chrom}\t{100 + i * 3}\t.\tA\tG\t.\t.\tGAS_REGION=intron;GAS_GENE=G{i % 7}"
            )
    source = tmp_path / "big.vcf"
    source.write_text("\n".join(lines) + "\n")
    made = write_outputs(source, tmp_path / "std", NAMES)
    meta = pq.ParquetFile(made.files["parquet"]).metadata
    assert meta.num_row_groups >= 2 and meta.num_rows == 2 * ROW_GROUP_ROWS
    spans = []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        stats = {group.column(c).path_in_schema: group.column(c).statistics for c in range(14)}
        spans.append(
            (
                (stats["chrom_index"].min, stats["pos"].min),
                (stats["chrom_index"].max, stats["pos"].max),
            )
        )
    assert spans == sorted(spans)
    genes = json.loads(made.files["genes"].read_text())["genes"]
    assert sum(g["alleles"] for g in genes) == 2 * ROW_GROUP_ROWS
    assert genes[0]["by_region"] == {"intron": genes[0]["alleles"]}


def test_a_contig_longer_than_tabix_allows_gets_a_csi_index(tmp_path: Path) -> None:
    _need_bio_tools()
    source = tmp_path / "long.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=big,length=900000000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "big\t100\t.\tA\tG\t.\t.\tGAS_REGION=intergenic\n"
        "big\t700000000\t.\tC\tT\t.\t.\tGAS_REGION=intergenic\n"
    )
    made = write_outputs(source, tmp_path / "std", NAMES)
    assert "annotated_csi" in made.files and "annotated_tbi" not in made.files
    region = subprocess.run(
        ["tabix", str(made.files["annotated_gz"]), "big:600000000-800000000"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [line.split("\t")[1] for line in region] == ["700000000"]


def test_a_header_only_result_gives_empty_tables(tmp_path: Path) -> None:
    source = tmp_path / "empty.vcf"
    source.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    made = write_outputs(source, tmp_path / "std", NAMES)
    assert _tsv_rows(made.files["tsv"]) == []
    assert pq.read_table(made.files["parquet"]).num_rows == 0
    assert json.loads(made.files["genes"].read_text()) == {"genes": []}
    assert set(made.files) == {"annotated_gz", "annotated_tbi", "tsv", "parquet", "genes"}
