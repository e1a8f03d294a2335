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

from annotator import annotate_file, outputs, terms
from annotator.exceptions import AnnotationInputError
from annotator.outputs import COLUMNS, ROW_GROUP_ROWS, annotate_with_outputs, write_outputs
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


def test_an_unsorted_upload_with_undeclared_keys_is_sorted_and_keeps_its_values(
    reference_dir: Path, write_vcf, tmp_path: Path
) -> None:
    """Uploads often use INFO, FORMAT and FILTER names their header never declares: bcftools
    sort failed on them ("Error encountered while parsing the input"); the sorted copy declares
    them, and every record keeps its values."""
    _need_bio_tools()
    records = [
        "chr17 43124100 . G A . lowq DP=5;SOMATIC GT:AD 0/1:3,4",
        "chr1 925952 rs1 G A,C . PASS DP=7 GT:AD 1/2:0,2,3",
        "chr17 7675088 . C T . PASS . GT 1/1",
        "chr1 69270 . A G . PASS SOMATIC;DP=9 GT ./.",
    ]
    header = "##fileformat=VCFv4.2\n##reference=GRCh38\n"
    source = write_vcf(records, header)
    source.write_text(source.read_text().replace("\tINFO\n", "\tINFO\tFORMAT\tS1\n"))
    made = _streamed(reference_dir, source, tmp_path / "out")
    assert not made.sorted_input
    gz_records = _bcftools_records(made.files["annotated_gz"])
    kept = [line.split("\t") for line in gz_records]
    assert [(f[0], f[1], f[6], f[8], f[9]) for f in kept] == [
        ("chr1", "69270", "PASS", "GT", "./."),
        ("chr1", "925952", "PASS", "GT:AD", "1/2:0,2,3"),
        ("chr17", "7675088", "PASS", "GT", "1/1"),
        ("chr17", "43124100", "lowq", "GT:AD", "0/1:3,4"),
    ]
    own = [f[7].split("GAS_")[0].rstrip(";") for f in kept]  # the upload's INFO, then GAS's
    assert own == ["SOMATIC;DP=9", "DP=7", "", "DP=5;SOMATIC"]
    header_lines = subprocess.run(
        ["bcftools", "view", "-h", str(made.files["annotated_gz"])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="Not declared' in header_lines
    assert '##FILTER=<ID=lowq,Description="Not declared' in header_lines


def test_bytes_that_are_not_utf8_stay_in_the_vcf_and_read_as_latin1_in_the_tables(
    tmp_path: Path,
) -> None:
    """An older file's Latin-1 'é' failed the whole job ("Invalid UTF8 payload")."""
    _need_bio_tools()
    text = (
        HEADER.encode()
        + b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + b"chr17\t7675088\tcaf\xe9\tC\tT\t.\tPASS\tNOTE=caf\xe9;GAS_GENE=TP53\n"
        + b"chr17\t7675090\t.\tC\tT\t.\tPASS\t.\n"
    )
    source = tmp_path / "latin1.vcf"
    source.write_bytes(text)
    made = write_outputs(source, tmp_path / "std", NAMES)
    rows = pq.read_table(made.files["parquet"]).to_pylist()
    assert [(r["id"], r["gene"]) for r in rows] == [("café", "TP53"), (None, None)]
    assert _tsv_rows(made.files["tsv"])[0]["id"] == "café"
    view = subprocess.run(
        ["bcftools", "view", "-H", str(made.files["annotated_gz"])], capture_output=True, check=True
    )
    assert b"\tcaf\xe9\t" in view.stdout and b"NOTE=caf\xe9;" in view.stdout


# -- written as the engine goes (the annotate step) ---------------------------------------------


def _streamed(reference_dir: Path, source: Path, out: Path) -> outputs.Outputs:
    _, made = annotate_with_outputs(
        source,
        out / "std",
        NAMES,
        out / "a.count.log",
        out / "a.summary.json",
        out / "annotated.vcf",
        build="GRCh38",
        reference_dir=reference_dir,
    )
    return made


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_outputs_written_as_the_engine_goes_are_those_made_from_its_plain_vcf(
    reference_dir: Path, write_vcf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    _need_bio_tools()
    monkeypatch.setattr(outputs, "BLOCK_BYTES", 512)  # records and alleles span the blocks
    records = RECORDS if order == "sorted" else [RECORDS[i] for i in (5, 0, 7, 3, 1, 6, 2, 4)]
    source = write_vcf(records, HEADER)
    plain = _annotate(reference_dir, source, tmp_path / "then")
    then = write_outputs(plain, tmp_path / "then" / "std", NAMES)
    now = _streamed(reference_dir, source, tmp_path / "now")
    assert set(now.files) == set(then.files)
    for kind, path in then.files.items():
        assert now.files[kind].read_bytes() == path.read_bytes(), kind
    assert (now.alleles, now.records, now.sorted_input) == (
        then.alleles,
        then.records,
        then.sorted_input,
    )
    assert now.plain_bytes == plain.stat().st_size
    # The plain text is written only when the .vcf.gz, sorted, no longer holds its order.
    kept = tmp_path / "now" / "annotated.vcf"
    assert kept.exists() == (order == "shuffled")
    if kept.exists():
        assert kept.read_bytes() == plain.read_bytes()


def test_an_input_that_fails_mid_file_leaves_no_output(
    reference_dir: Path, write_vcf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "BLOCK_BYTES", 512)
    source = write_vcf(RECORDS * 20 + ["chr17 notanumber . G A . PASS ."], HEADER)
    with pytest.raises(AnnotationInputError):
        _streamed(reference_dir, source, tmp_path / "now")
    assert list((tmp_path / "now").rglob("*.*")) == []


def test_a_table_that_cannot_be_built_fails_the_writer_and_leaves_no_output(
    tmp_path: Path,
) -> None:
    writer = outputs.OutputWriter(tmp_path / "std", NAMES)
    writer.write(HEADER.encode() + b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    writer.write(b"chr1\tone\t.\tA\tG\t.\tPASS\t.\n")  # no engine writes this
    with pytest.raises(Exception, match="one"):
        writer.finish(tmp_path / "plain.vcf")
    assert list((tmp_path / "std").iterdir()) == []


def test_a_table_that_fails_early_stops_the_writing_and_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "BLOCK_BYTES", 64)  # the bad line is in the first block handed
    writer = outputs.OutputWriter(tmp_path / "std", NAMES)
    with pytest.raises(Exception, match="one"):  # from write, or at the latest from finish
        writer.write(HEADER.encode() + b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        writer.write(b"chr1\tone\t.\tA\tG\t.\tPASS\t.\n" * 4)
        for pos in range(1, 2000):
            writer.write(f"chr1\t{pos}\t.\tA\tG\t.\tPASS\t.\n".encode())
        writer.finish(tmp_path / "plain.vcf")
    assert list((tmp_path / "std").iterdir()) == []


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
        stats = {
            group.column(c).path_in_schema: group.column(c).statistics
            for c in range(group.num_columns)
        }
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


# An annotated VCF as the consequence engine writes it (the INFO fields of
# notes/consequence-interface.md), with a multi-allelic record, a '.' for none and GAS_CSQ.
CONSEQUENCE_VCF = """##fileformat=VCFv4.2
##INFO=<ID=GAS_CSQ,Number=.,Type=String,Description="Consequences. Format: Allele|Consequence">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
17\t100\t.\tC\tT,G\t.\t.\tGAS_GENE=TP53,TP53;GAS_REGION=CDS,CDS;\
GAS_CONSEQUENCE=stop_gained,missense_variant;GAS_IMPACT=HIGH,MODERATE;\
GAS_PICK_CONSEQUENCE=stop_gained,missense_variant&splice_region_variant;\
GAS_PICK_IMPACT=HIGH,MODERATE;GAS_PICK_HGVSC=ENST1.1:c.10C>T,ENST1.1:c.10C>G;\
GAS_PICK_HGVSP=ENSP1.1:p.Gln4Ter,ENSP1.1:p.Gln4Glu;\
GAS_CSQ=T|stop_gained|HIGH,G|missense_variant&splice_region_variant|MODERATE
17\t200\trs7\tC\tT\t.\t.\tGAS_GENE=TP53;GAS_REGION=CDS;GAS_CONSEQUENCE=synonymous_variant;\
GAS_IMPACT=LOW;GAS_PICK_CONSEQUENCE=synonymous_variant;GAS_PICK_IMPACT=LOW;\
GAS_PICK_HGVSC=ENST1.1:c.12C>T;GAS_PICK_HGVSP=ENSP1.1:p.Leu4%3D
17\t300\t.\tA\tG\t.\t.\tGAS_GENE=TP53|WRAP53;GAS_REGION=intron;GAS_CONSEQUENCE=intron_variant;\
GAS_IMPACT=MODIFIER;GAS_PICK_CONSEQUENCE=intron_variant;GAS_PICK_IMPACT=MODIFIER;\
GAS_PICK_HGVSC=ENST1.1:c.20+5A>G;GAS_PICK_HGVSP=.
17\t900\t.\tA\tG\t.\t.\tGAS_REGION=intergenic;GAS_CONSEQUENCE=intergenic_variant;\
GAS_IMPACT=MODIFIER;GAS_PICK_CONSEQUENCE=.;GAS_PICK_IMPACT=.;GAS_PICK_HGVSC=.;GAS_PICK_HGVSP=.
"""
CONSEQUENCE_COLUMNS = (
    "consequence",
    "impact",
    "pick_consequence",
    "pick_impact",
    "pick_hgvsc",
    "pick_hgvsp",
)


def test_the_tables_carry_each_alleles_consequence_impact_and_hgvs(tmp_path: Path) -> None:
    source = tmp_path / "consequences.vcf"
    source.write_text(CONSEQUENCE_VCF)
    made = write_outputs(source, tmp_path / "std", NAMES)
    rows = _tsv_rows(made.files["tsv"])
    assert list(rows[0])[-6:] == list(CONSEQUENCE_COLUMNS)  # new columns come last
    got = [tuple(row[c] for c in CONSEQUENCE_COLUMNS) for row in rows]
    assert got == [
        ("stop_gained", "HIGH", "stop_gained", "HIGH", "ENST1.1:c.10C>T", "ENSP1.1:p.Gln4Ter"),
        (
            "missense_variant",
            "MODERATE",
            "missense_variant&splice_region_variant",
            "MODERATE",
            "ENST1.1:c.10C>G",
            "ENSP1.1:p.Gln4Glu",
        ),
        ("synonymous_variant", "LOW", "synonymous_variant", "LOW", "ENST1.1:c.12C>T",
         "ENSP1.1:p.Leu4%3D"),
        ("intron_variant", "MODIFIER", "intron_variant", "MODIFIER", "ENST1.1:c.20+5A>G", ""),
        ("intergenic_variant", "MODIFIER", "", "", "", ""),
    ]  # fmt: skip
    table = pq.read_table(made.files["parquet"])
    for column in CONSEQUENCE_COLUMNS:
        assert str(table.schema.field(column).type) == "string"
    assert table.column("pick_hgvsp").to_pylist()[3:] == [None, None]  # '.' is null, not "."
    # Alleles by their most severe consequence, the most severe term first.
    assert made.by_consequence == {
        "stop_gained": 1,
        "missense_variant": 1,
        "synonymous_variant": 1,
        "intron_variant": 1,
        "intergenic_variant": 1,
    }
    assert list(made.by_consequence) == [t for t in terms.TERM_NAMES if t in made.by_consequence]
    genes = {g["gene"]: g for g in json.loads(made.files["genes"].read_text())["genes"]}
    assert genes["TP53"]["alleles"] == 4
    assert genes["TP53"]["by_region"] == {"CDS": 3, "intron": 1}
    assert list(genes["TP53"]["by_consequence"].items()) == [
        ("stop_gained", 1),
        ("missense_variant", 1),
        ("synonymous_variant", 1),
        ("intron_variant", 1),
    ]
    assert genes["WRAP53"]["by_consequence"] == {"intron_variant": 1}


def test_an_annotated_vcf_from_before_consequences_gives_empty_consequence_columns(
    tmp_path: Path,
) -> None:
    source = tmp_path / "old.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "17\t100\t.\tC\tT,G\t.\t.\tGAS_GENE=TP53,TP53;GAS_REGION=CDS,intron\n"
    )
    made = write_outputs(source, tmp_path / "std", NAMES)
    rows = _tsv_rows(made.files["tsv"])
    assert list(rows[0]) == list(COLUMNS)
    assert all(row[c] == "" for row in rows for c in CONSEQUENCE_COLUMNS)
    table = pq.read_table(made.files["parquet"])
    assert table.column("consequence").null_count == 2
    assert made.by_consequence == {}
    (gene,) = json.loads(made.files["genes"].read_text())["genes"]
    assert gene["by_region"] == {"CDS": 1, "intron": 1} and gene["by_consequence"] == {}
