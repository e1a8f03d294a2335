"""The standard outputs of an annotated VCF: what downstream tools and the dashboard read.

From the plain annotated VCF the engine writes, :func:`write_outputs` makes a bgzipped VCF with a
tabix index (CSI for contigs longer than 2^29), a TSV with one row per ALT allele (opens in a
spreadsheet), a Parquet sidecar with the same rows and typed columns (row groups in file order,
i.e. by chromosome and position, so ranged reads prune) and a per-gene summary. Compression and
indexing are htslib's (pysam); everything streams, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq
import pysam
import pysam.bcftools

# One row per ALT allele. ``id`` is the input's ID column; ``known_id`` GAS's known-sites match.
COLUMNS = (
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "gene",
    "gene_id",
    "region",
    "pick_gene",
    "pick_transcript",
    "pick_region",
    "distance",
    "known_id",
)
# INFO field (Number=A) behind each per-allele column.
_INFO_OF = {
    "gene": "GAS_GENE",
    "gene_id": "GAS_GENE_ID",
    "region": "GAS_REGION",
    "pick_gene": "GAS_PICK_GENE",
    "pick_transcript": "GAS_PICK_TRANSCRIPT",
    "pick_region": "GAS_PICK_REGION",
    "distance": "GAS_DISTANCE",
    "known_id": "GAS_KNOWN_ID",
}
SCHEMA = pa.schema(
    [
        ("chrom", pa.string()),
        ("chrom_index", pa.int32()),  # order of the contig in the file: sorts and prunes
        ("pos", pa.int64()),
        ("id", pa.string()),
        ("ref", pa.string()),
        ("alt", pa.string()),
        ("gene", pa.string()),
        ("gene_id", pa.string()),
        ("region", pa.string()),
        ("pick_gene", pa.string()),
        ("pick_transcript", pa.string()),
        ("pick_region", pa.string()),
        ("distance", pa.int64()),
        ("known_id", pa.string()),
    ]
)
ROW_GROUP_ROWS = 32_768
TABIX_MAX_POSITION = 1 << 29  # tabix's .tbi cannot index beyond this; CSI can


@dataclass
class Outputs:
    """The files written, by result kind, and what the stream saw."""

    files: dict[str, Path] = field(default_factory=dict)
    alleles: int = 0
    records: int = 0
    sorted_input: bool = True


def write_outputs(
    annotated_vcf: Path, out_dir: Path, names: dict[str, str], row_group_rows: int = ROW_GROUP_ROWS
) -> Outputs:
    """Write every standard output of ``annotated_vcf`` into ``out_dir``.

    ``names`` maps the kinds ``annotated_gz``, ``annotated_tbi``, ``annotated_csi``, ``tsv``,
    ``parquet`` and ``genes`` to file names (only one of the two index kinds is written).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    gz = out_dir / names["annotated_gz"]
    tables = _Tables(out_dir / names["tsv"], out_dir / names["parquet"], out_dir / names["genes"])
    tables.row_group_rows = row_group_rows
    with open(annotated_vcf, encoding="utf-8", newline="") as text:
        scan = tables.write(text)
    sorted_input = scan.in_order
    if sorted_input:
        pysam.tabix_compress(str(annotated_vcf), str(gz), force=True)
    else:
        # tabix needs position order; htslib's own sort (bounded memory, spills to disk) gives it,
        # and the tables are rewritten from the sorted file so every output has the same order.
        with tempfile.TemporaryDirectory(dir=out_dir) as spill:
            declared = Path(spill) / "declared.vcf"
            _declare_contigs(annotated_vcf, declared, scan)
            pysam.bcftools.sort(
                *("-Oz", "-m", "256M", "-T", spill, "-o", str(gz), str(declared)),
                catch_stdout=False,
            )
        with gzip.open(gz, "rt", encoding="utf-8", newline="") as text:
            scan = tables.write(text)
    csi = scan.max_position >= TABIX_MAX_POSITION or scan.max_contig_length >= TABIX_MAX_POSITION
    pysam.tabix_index(str(gz), preset="vcf", force=True, csi=csi, keep_original=True)
    index_kind = "annotated_csi" if csi else "annotated_tbi"
    made_index = Path(f"{gz}.{'csi' if csi else 'tbi'}")
    index = out_dir / names[index_kind]
    if made_index != index:
        made_index.replace(index)
    files = {
        "annotated_gz": gz,
        index_kind: index,
        "tsv": tables.tsv_path,
        "parquet": tables.parquet_path,
        "genes": tables.genes_path,
    }
    return Outputs(files, scan.alleles, scan.records, sorted_input)


@dataclass
class _Scan:
    records: int = 0
    alleles: int = 0
    in_order: bool = True
    max_position: int = 0
    max_contig_length: int = 0
    contigs: dict[str, int] = field(default_factory=dict)  # name -> order of appearance
    declared: set[str] = field(default_factory=set)  # contigs the header declares


class _Tables:
    """The TSV, the Parquet sidecar and the gene summary, written in one pass over VCF text."""

    def __init__(self, tsv_path: Path, parquet_path: Path, genes_path: Path) -> None:
        self.tsv_path, self.parquet_path, self.genes_path = tsv_path, parquet_path, genes_path
        self.row_group_rows = ROW_GROUP_ROWS

    def write(self, text: TextIO) -> _Scan:
        scan = _Scan()
        genes: dict[str, list[Any]] = {}  # name -> [gene id, Counter of region classes]
        writer = pq.ParquetWriter(
            self.parquet_path, SCHEMA, compression="zstd", write_statistics=True
        )
        try:
            with open(self.tsv_path, "w", encoding="utf-8", newline="") as tsv:
                out = csv.writer(tsv, delimiter="\t", lineterminator="\n")
                out.writerow(COLUMNS)
                batch: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
                for row in _alleles(text, scan):
                    out.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
                    for name in SCHEMA.names:
                        batch[name].append(row[name])
                    _count_gene(genes, row)
                    if len(batch["pos"]) >= self.row_group_rows:
                        writer.write_batch(pa.record_batch(batch, schema=SCHEMA))
                        batch = {name: [] for name in SCHEMA.names}
                if batch["pos"] or scan.alleles == 0:
                    writer.write_batch(pa.record_batch(batch, schema=SCHEMA))
        finally:
            writer.close()
        summary = [
            {"gene": name, "gene_id": gid, "alleles": sum(regions.values()), "by_region": regions}
            for name, (gid, regions) in genes.items()
        ]
        summary.sort(key=lambda g: (-g["alleles"], g["gene"]))
        self.genes_path.write_text(json.dumps({"genes": summary}, separators=(",", ":")))
        return scan


def _count_gene(genes: dict[str, list[Any]], row: dict[str, Any]) -> None:
    if not row["gene"]:
        return
    ids = (row["gene_id"] or "").split("|")
    region = row["region"] or "unknown"
    for i, name in enumerate(row["gene"].split("|")):
        if name in ("", "."):
            continue
        entry = genes.get(name)
        if entry is None:
            gene_id = ids[i] if i < len(ids) and ids[i] not in ("", ".") else None
            entry = genes[name] = [gene_id, Counter()]
        entry[1][region] += 1


def _alleles(text: TextIO, scan: _Scan) -> Iterator[dict[str, Any]]:
    """One dict per ALT allele of the VCF text (a record without ALT gives one)."""
    contigs = scan.contigs
    last_contig, last_pos = None, 0
    for line in text:
        if line.startswith("#"):
            if line.startswith("##contig=<"):
                contig_id, length = _contig_line(line)
                scan.declared.add(contig_id)
                scan.max_contig_length = max(scan.max_contig_length, length)
            continue
        fields = line.rstrip("\r\n").split("\t", 8)
        if len(fields) < 8:
            continue
        chrom, pos_text, vid, ref, alt, _qual, _filter, info = fields[:8]
        pos = int(pos_text)
        scan.records += 1
        scan.max_position = max(scan.max_position, pos + len(ref))
        if chrom != last_contig:
            if chrom in contigs:
                scan.in_order = False  # a contig's records are not contiguous
            contigs.setdefault(chrom, len(contigs))
        elif pos < last_pos:
            scan.in_order = False
        last_contig, last_pos = chrom, pos
        gas = {}
        for item in info.split(";"):
            if item.startswith("GAS_"):
                key, _, value = item.partition("=")
                gas[key] = value.split(",")
        alts = alt.split(",")
        for i, allele in enumerate(alts):
            row: dict[str, Any] = {
                "chrom": chrom,
                "chrom_index": contigs[chrom],
                "pos": pos,
                "id": None if vid == "." else vid,
                "ref": ref,
                "alt": allele,
            }
            for column, info_id in _INFO_OF.items():
                values = gas.get(info_id)
                value = values[i] if values is not None and i < len(values) else "."
                row[column] = None if value in (".", "") else value
            if row["distance"] is not None:
                row["distance"] = int(row["distance"])
            scan.alleles += 1
            yield row


def _contig_line(line: str) -> tuple[str, int]:
    """(ID, length or 0) of a ``##contig`` header line."""
    found = {}
    for part in line[len("##contig=<") :].rstrip(">\r\n").split(","):
        key, _, value = part.partition("=")
        found[key] = value
    length = found.get("length", "")
    return found.get("ID", ""), int(length) if length.isdigit() else 0


def _karyotype_order(name: str) -> tuple[int, int, str]:
    bare = name.removeprefix("chr")
    if bare.isdigit():
        return (0, int(bare), "")
    return (
        (1, ("X", "Y", "M", "MT").index(bare), "")
        if bare in ("X", "Y", "M", "MT")
        else (2, 0, name)
    )


def _declare_contigs(source: Path, target: Path, scan: _Scan) -> None:
    """Copy the VCF, declaring every contig it uses: bcftools sort refuses undeclared ones."""
    # Undeclared contigs in karyotype order (bcftools sorts contigs in header order).
    missing = sorted((c for c in scan.contigs if c not in scan.declared), key=_karyotype_order)
    with open(source, encoding="utf-8", newline="") as src, open(target, "w") as out:
        for line in src:
            if line.startswith("#CHROM"):
                out.writelines(f"##contig=<ID={name}>\n" for name in missing)
            out.write(line)
