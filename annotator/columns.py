"""The variant table's columns: one row per ALT allele, in the TSV, the Parquet and the browser.

Plain Python (no numpy, pyarrow or pysam), so the web process and the API document can read the
column list without the annotator's heavy modules: ``annotator.outputs`` writes the files from it,
``workflows.results`` queries and exports them, ``webapp.api_spec`` describes them.
"""

from __future__ import annotations

from dataclasses import dataclass

STRING, INTEGER = "string", "integer"
# The region classes of GAS_REGION / GAS_PICK_REGION, in the engine's order (annotator.engine
# REGIONS); the browser's region filter and the API document offer these.
REGION_CLASSES = (
    "CDS",
    "UTR5",
    "UTR3",
    "ncExon",
    "splice_region",
    "intron",
    "upstream",
    "downstream",
    "intergenic",
    "unknown_contig",
)


@dataclass(frozen=True)
class Column:
    """One column: its name, its type, the Number=A INFO field behind it (None for the record's
    own columns) and what it holds."""

    name: str
    kind: str
    info: str | None
    description: str


# In this order in the TSV and the Parquet (which adds chrom_index after chrom). New columns go at
# the end, so readers that count columns keep working.
TABLE: tuple[Column, ...] = (
    Column("chrom", STRING, None, "CHROM"),
    Column("pos", INTEGER, None, "POS (1-based)"),
    Column("id", STRING, None, "the input's own ID (null for .)"),
    Column("ref", STRING, None, "REF"),
    Column("alt", STRING, None, "this row's ALT allele"),
    Column("gene", STRING, "GAS_GENE", "Genes of the ALT allele, |-separated"),
    Column("gene_id", STRING, "GAS_GENE_ID", "Gene IDs matching GAS_GENE, |-separated"),
    Column("region", STRING, "GAS_REGION", "Region class of the ALT allele"),
    Column("pick_gene", STRING, "GAS_PICK_GENE", "Gene of the picked transcript"),
    Column("pick_transcript", STRING, "GAS_PICK_TRANSCRIPT", "ID of the picked transcript"),
    Column("pick_region", STRING, "GAS_PICK_REGION", "Region class on the picked transcript"),
    Column("distance", INTEGER, "GAS_DISTANCE", "Bases to GAS_GENE (up/downstream, intergenic)"),
    Column("known_id", STRING, "GAS_KNOWN_ID", "ID of the known variant with the same alleles"),
    Column(
        "consequence",
        STRING,
        "GAS_CONSEQUENCE",
        "Most severe consequence (SO term) of the ALT allele over all its transcripts",
    ),
    Column("impact", STRING, "GAS_IMPACT", "IMPACT of GAS_CONSEQUENCE"),
    Column(
        "pick_consequence",
        STRING,
        "GAS_PICK_CONSEQUENCE",
        "Consequences (SO terms) on the picked transcript, &-separated, most severe first",
    ),
    Column("pick_impact", STRING, "GAS_PICK_IMPACT", "IMPACT on the picked transcript"),
    Column("pick_hgvsc", STRING, "GAS_PICK_HGVSC", "HGVSc on the picked transcript"),
    Column("pick_hgvsp", STRING, "GAS_PICK_HGVSP", "HGVSp on the picked transcript"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in TABLE}
NAMES: tuple[str, ...] = tuple(c.name for c in TABLE)
# The columns consequence calling added: a table written before it lacks them.
CONSEQUENCE_COLUMNS = (
    "consequence",
    "impact",
    "pick_consequence",
    "pick_impact",
    "pick_hgvsc",
    "pick_hgvsp",
)
