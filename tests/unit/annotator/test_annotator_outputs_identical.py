"""The standard outputs, pinned against a slow per-allele reference (the original implementation's
rules, one allele at a time) on varied generated VCFs: TSV bytes, the Parquet table and its row
groups, genes.json bytes and the bgzipped VCF's records."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pysam
import pytest

from annotator import outputs, terms
from annotator.outputs import COLUMNS, SCHEMA, write_outputs
from gas import keys

NAMES = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
HEAD = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
GAS = (
    "GAS_GENE",
    "GAS_GENE_ID",
    "GAS_REGION",
    "GAS_PICK_GENE",
    "GAS_PICK_TRANSCRIPT",
    "GAS_PICK_REGION",
    "GAS_DISTANCE",
    "GAS_KNOWN_ID",
    "GAS_CONSEQUENCE",
    "GAS_IMPACT",
    "GAS_PICK_CONSEQUENCE",
    "GAS_PICK_IMPACT",
    "GAS_PICK_HGVSC",
    "GAS_PICK_HGVSP",
)


@pytest.fixture(autouse=True, params=["default blocks", "small blocks"])
def block_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small blocks make a record's allele, a row group and a contig's run span blocks."""
    if request.param == "small blocks":
        monkeypatch.setattr(outputs, "BLOCK_BYTES", 4096)


def _reference(text: str) -> tuple[list[dict[str, Any]], bytes, bytes]:
    """(rows, TSV bytes, genes.json bytes) of VCF text, one allele at a time."""
    rows: list[dict[str, Any]] = []
    contigs: dict[str, int] = {}
    for line in io.StringIO(text, newline=""):
        if line.startswith("#"):
            continue
        fields = line.rstrip("\r\n").split("\t", 8)
        if len(fields) < 8:
            continue
        chrom, pos, vid, ref, alt, _q, _f, info = fields[:8]
        contigs.setdefault(chrom, len(contigs))
        gas = {}
        for item in info.split(";"):
            if item.startswith("GAS_"):
                key, _, value = item.partition("=")
                gas[key] = value.split(",")
        for i, allele in enumerate(alt.split(",")):
            row = {
                "chrom": chrom,
                "chrom_index": contigs[chrom],
                "pos": int(pos),
                "id": None if vid == "." else vid,
                "ref": ref,
                "alt": allele,
            }
            for column in COLUMNS[5:]:
                values = gas.get(_INFO_OF[column])
                value = values[i] if values is not None and i < len(values) else "."
                row[column] = None if value in (".", "") else value
            if row["distance"] is not None:
                row["distance"] = int(row["distance"])
            rows.append(row)
    tsv = io.StringIO(newline="")
    out = csv.writer(tsv, delimiter="\t", lineterminator="\n")
    out.writerow(COLUMNS)
    for row in rows:
        out.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    genes: dict[str, list[Any]] = {}
    for row in rows:
        if not row["gene"]:
            continue
        ids = (row["gene_id"] or "").split("|")
        region = row["region"] or "unknown"
        for i, name in enumerate(row["gene"].split("|")):
            if name in ("", "."):
                continue
            if name not in genes:
                gene_id = ids[i] if i < len(ids) and ids[i] not in ("", ".") else None
                genes[name] = [gene_id, Counter(), Counter()]
            genes[name][1][region] += 1
            if row["consequence"]:
                genes[name][2][row["consequence"]] += 1

    def severity(term: str) -> tuple[int, str]:
        known = terms.BY_NAME.get(term)
        return (known.rank if known else len(terms.TERMS) + 1, term)

    summary = [
        {
            "gene": name,
            "gene_id": gid,
            "alleles": sum(regions.values()),
            "by_region": regions,
            "by_consequence": {t: consequences[t] for t in sorted(consequences, key=severity)},
        }
        for name, (gid, regions, consequences) in genes.items()
    ]
    summary.sort(key=lambda g: (-g["alleles"], g["gene"]))
    return (
        rows,
        tsv.getvalue().encode(),
        json.dumps({"genes": summary}, separators=(",", ":")).encode(),
    )


_INFO_OF = dict(zip(COLUMNS[5:], GAS, strict=True))


def _info(rng: random.Random, n_alt: int, odd: bool) -> str:
    """GAS_* fields per allele with the odd one missing, short, '.' or repeated; ``odd`` adds
    empty values and value-less items (which bcftools sort refuses)."""
    items = []
    if rng.random() < 0.3:
        items.append(f"DP={rng.randint(1, 90)}")
    genes = ["TP53", "BRCA1", "A1BG", "NBPF1", 'odd"name', "Ré\\1", "G" + str(rng.randint(0, 40))]
    for key in GAS:
        roll = rng.random()
        if roll < 0.08:
            continue  # absent
        if roll < 0.1 and odd:
            items.append(key)  # a flag-like item with no value
            continue
        values = []
        for _ in range(n_alt if rng.random() > 0.1 else max(1, n_alt - 1)):
            pick = rng.random()
            if pick < 0.1:
                values.append(".")
            elif pick < 0.13 and odd:
                values.append("")
            elif key == "GAS_DISTANCE":
                values.append(str(rng.randint(0, 5_000_000)))
            elif key in ("GAS_GENE", "GAS_PICK_GENE"):
                k = rng.choice((1, 1, 1, 2, 3))
                values.append("|".join(rng.choice(genes + ["."]) for _ in range(k)))
            elif key == "GAS_GENE_ID":
                k = rng.choice((1, 2, 3))
                values.append(
                    "|".join(rng.choice(("ENSG0001", "ENSG0002", ".", "")) for _ in range(k))
                )
            elif key in ("GAS_REGION", "GAS_PICK_REGION"):
                values.append(rng.choice(("intron", "CDS", "intergenic", "UTR5", "upstream")))
            elif key == "GAS_KNOWN_ID":
                values.append(f"rs{rng.randint(1, 10**8)}")
            elif key == "GAS_CONSEQUENCE":
                values.append(rng.choice((*terms.TERM_NAMES[:12], "not_a_term", "intron_variant")))
            elif key in ("GAS_IMPACT", "GAS_PICK_IMPACT"):
                values.append(rng.choice(terms.IMPACTS))
            elif key == "GAS_PICK_CONSEQUENCE":
                k = rng.choice((1, 1, 2, 3))
                values.append("&".join(rng.sample(terms.TERM_NAMES, k)))
            elif key == "GAS_PICK_HGVSC":
                values.append(f"ENST{rng.randint(1, 99):011d}.1:c.{rng.randint(1, 900)}A>G")
            elif key == "GAS_PICK_HGVSP":
                values.append(f"ENSP{rng.randint(1, 99):011d}.1:p.Leu{rng.randint(1, 300)}%3D")
            else:
                values.append(f"ENST{rng.randint(1, 99999):011d}")
        items.append(f"{key}={','.join(values)}")
    if items and rng.random() < 0.05:
        items.append("GAS_REGION=intron")  # a repeated key: the last one counts
    rng.shuffle(items)
    return ";".join(items) if items else "."


def _vcf(rng: random.Random, n: int, contigs: list[tuple[str, int]], shuffle: bool) -> str:
    header = ["##fileformat=VCFv4.2"]
    header += [f"##contig=<ID={name},length={length}>" for name, length in contigs if length]
    header += ['##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">']
    header += [f'##INFO=<ID={key},Number=A,Type=String,Description="GAS">' for key in GAS]
    header.append(HEAD)
    records = []
    for c, (name, length) in enumerate(contigs):
        pos = 0
        limit = length or 10**8
        for _ in range(n // len(contigs)):
            pos = min(limit - 50, pos + rng.choice((0, 1, 7, 400, 90_000)))
            ref = rng.choice(("A", "C", "GT", "TTTA"))
            n_alt = rng.choice((1, 1, 1, 2, 3)) if rng.random() > 0.02 else 0
            alt = ",".join(rng.sample(("A", "C", "G", "T", "AG", "<DEL>"), n_alt))
            ids = (".", ".", f"rs{rng.randint(1, 10**7)}", f'id{c}"{rng.randint(0, 9)}')
            vid = rng.choice(ids if shuffle else (*ids, ""))
            info = _info(rng, max(1, n_alt), odd=not shuffle)
            records.append(f"{name}\t{max(1, pos)}\t{vid}\t{ref}\t{alt or '.'}\t.\tPASS\t{info}")
    if shuffle:
        rng.shuffle(records)
    return "\n".join(header + records) + "\n"


def _gz_records(path: Path) -> list[tuple[str, int, str, str]]:
    """(chrom, pos, ref, ALT) of each record, through the index, contig by contig."""
    with pysam.VariantFile(str(path)) as vcf:
        return [
            (r.contig, r.pos, r.ref, ",".join(r.alts or (".",)))
            for contig in vcf.index
            for r in vcf.fetch(contig)
        ]


def _plain_records(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _check(text: str, tmp_path: Path, row_group_rows: int) -> Any:
    source = tmp_path / "annotated.vcf"
    source.write_text(text, newline="")
    made = write_outputs(source, tmp_path / "std", NAMES, row_group_rows=row_group_rows)
    gz = made.files["annotated_gz"]
    with gzip.open(gz, "rt", encoding="utf-8", newline="") as sorted_text:
        seen = sorted_text.read()
    if made.sorted_input:
        assert seen == text
    else:
        # bcftools rewrites a record's odd spellings (an empty value, an empty ID): compare sites.
        def sites(t: str) -> list[list[str]]:
            return sorted(
                line.split("\t")[:5:2] + line.split("\t")[4:5] for line in _plain_records(t)
            )

        assert sites(seen) == sites(text)
    rows, tsv, genes = _reference(seen)
    assert made.files["tsv"].read_bytes() == tsv
    assert made.files["genes"].read_bytes() == genes
    table = pq.read_table(made.files["parquet"])
    assert table.schema.remove_metadata() == SCHEMA
    assert table.to_pylist() == rows
    meta = pq.ParquetFile(made.files["parquet"]).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    full, rest = divmod(len(rows), row_group_rows)
    assert sizes == [row_group_rows] * full + ([rest] if rest or not rows else [])
    assert made.alleles == len(rows) and made.records == len(_plain_records(text))
    plain = [line.split("\t") for line in _plain_records(seen)]
    assert _gz_records(gz) == [(f[0], int(f[1]), f[3], f[4]) for f in plain]
    return made


def _tables_match_the_reference(text: str, source: Path, row_group_rows: int) -> Any:
    """Write ``text``'s outputs; its TSV, genes.json and Parquet rows are the reference's."""
    source.write_bytes(text.encode())
    made = write_outputs(source, source.parent / "std", NAMES, row_group_rows=row_group_rows)
    rows, tsv, genes = _reference(text)
    assert made.files["tsv"].read_bytes() == tsv
    assert made.files["genes"].read_bytes() == genes
    assert pq.read_table(made.files["parquet"]).to_pylist() == rows
    return made


@pytest.mark.parametrize("seed", [1, 2])
def test_sorted_varied_input_matches_the_reference(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    contigs = [("chr1", 248_956_422), ("chr2", 242_193_529), ("chrX", 156_040_895), ("HLA-1", 0)]
    made = _check(_vcf(rng, 4_000, contigs, shuffle=False), tmp_path, row_group_rows=1_000)
    assert made.sorted_input and "annotated_tbi" in made.files


def test_unsorted_input_is_sorted_and_matches_the_reference(tmp_path: Path) -> None:
    rng = random.Random(7)
    contigs = [("chr2", 242_193_529), ("chr10", 133_797_422), ("chr1", 248_956_422), ("un", 0)]
    made = _check(_vcf(rng, 3_000, contigs, shuffle=True), tmp_path, row_group_rows=700)
    assert not made.sorted_input


def test_long_contigs_get_csi_and_match_the_reference(tmp_path: Path) -> None:
    rng = random.Random(3)
    contigs = [("big", 900_000_000), ("chr1", 248_956_422)]
    made = _check(_vcf(rng, 600, contigs, shuffle=False), tmp_path, row_group_rows=128)
    assert "annotated_csi" in made.files


def test_header_only_matches_the_reference(tmp_path: Path) -> None:
    made = _check(f"##fileformat=VCFv4.2\n{HEAD}\n", tmp_path, row_group_rows=64)
    assert made.alleles == 0


def test_no_trailing_newline_matches_the_reference(tmp_path: Path) -> None:
    text = (
        f"##fileformat=VCFv4.2\n{HEAD}\n"
        "chr1\t5\t.\tA\tG,T\t.\t.\tGAS_GENE=X|Y,Z;GAS_REGION=CDS\n"
        "chr1\t9\trs1\tA\t.\t.\t.\t.\n"
        "chr1\t12\t.\tC\tA\t.\t.\tGAS_DISTANCE=17;GAS_GENE_ID=E1|.;GAS_GENE=Q|R"
    )
    _tables_match_the_reference(text, tmp_path / "tail.vcf", row_group_rows=2)


def test_samples_cr_line_ends_and_short_lines_match_the_reference(tmp_path: Path) -> None:
    """Blocks of the header's shape take the C split; blocks with a CR line end or a short line
    take the general one: both give the reference's rows."""
    rng = random.Random(11)
    head = f"##fileformat=VCFv4.2\n{HEAD}\tFORMAT\tS1\tS2\n"
    lines = []
    for i in range(600):
        info = _info(rng, 1, odd=False)
        lines.append(f"chr1\t{1000 + 10 * i}\t.\tA\tG\t.\tPASS\t{info}\tGT\t0/1\t1/1\n")
    lines[150] = lines[150].replace("\n", "\r\n")
    lines[400] = "chr1\t5000\tshort\n"
    made = _tables_match_the_reference(
        head + "".join(lines), tmp_path / "samples.vcf", row_group_rows=100
    )
    assert made.records == 599
