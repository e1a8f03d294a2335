"""The INFO fields the engine writes: the one declaration of their IDs, numbers, types and
descriptions. ``annotator.engine`` renders its header lines from here, ``annotator.columns``
names the field behind each per-allele column, and ``annotator.outputs`` reads the fields back by
these IDs. Plain Python (no numpy), like ``columns``: the web process may read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotator.columns import REGION_CLASSES


@dataclass(frozen=True)
class InfoField:
    id: str
    number: str  # "A": one value per ALT allele; ".": any number
    type: str  # VCF's Type: String, Integer
    description: str

    def header_line(self) -> str:
        return (
            f"##INFO=<ID={self.id},Number={self.number},Type={self.type},"
            f'Description="{self.description}">'
        )


_REGIONS = ", ".join(r for r in REGION_CLASSES if r != "unknown_contig")

# In the order the header lists them. GAS_CSQ's description ends with its block layout, which the
# consequence caller declares (annotator.consequences.CSQ_FORMAT): see header_lines.
FIELDS: tuple[InfoField, ...] = (
    InfoField(
        "GAS_REGION",
        "A",
        "String",
        "GAS region class of each ALT allele (its REF span after trimming shared bases), highest "
        f"precedence first: {_REGIONS}; unknown_contig when the reference bundle lacks the contig",
    ),
    InfoField(
        "GAS_GENE",
        "A",
        "String",
        "Per ALT allele: overlapping gene names separated by |; for upstream/downstream the gene "
        "whose flank it is; for intergenic the nearest gene; . for none",
    ),
    InfoField(
        "GAS_GENE_ID", "A", "String", "Per ALT allele: gene IDs matching GAS_GENE, separated by |"
    ),
    InfoField(
        "GAS_STRAND",
        "A",
        "String",
        "Per ALT allele: gene strands matching GAS_GENE, separated by |",
    ),
    InfoField(
        "GAS_GENE_TYPE",
        "A",
        "String",
        "Per ALT allele: gene biotypes matching GAS_GENE, separated by |",
    ),
    InfoField(
        "GAS_DISTANCE",
        "A",
        "Integer",
        "Per ALT allele: bases to GAS_GENE (upstream, downstream, intergenic); . for genic alleles",
    ),
    InfoField(
        "GAS_KNOWN_ID",
        "A",
        "String",
        "Per ALT allele: ID of the known variant with the same contig, position and alleles "
        "(after trimming shared bases) in the configured known-sites file; . for none",
    ),
    InfoField(
        "GAS_PICK_REGION",
        "A",
        "String",
        "Per ALT allele: region class on the one picked transcript (VEP --pick order: MANE "
        "Select, then coding, then most severe class, then longest)",
    ),
    InfoField(
        "GAS_PICK_GENE", "A", "String", "Per ALT allele: gene of the picked transcript; . for none"
    ),
    InfoField(
        "GAS_PICK_TRANSCRIPT",
        "A",
        "String",
        "Per ALT allele: ID of the picked transcript; . where the reference source names none",
    ),
    InfoField(
        "GAS_PICK_BASIS",
        "A",
        "String",
        "Per ALT allele: why that transcript is its gene's pick: MANE_Select, Ensembl_canonical, "
        "longest_coding, longest, or gene (no transcript structure)",
    ),
    InfoField(
        "GAS_CONSEQUENCE",
        "A",
        "String",
        "Per ALT allele: its most severe Sequence Ontology consequence over every transcript "
        "within 5 kb (Ensembl's order); intergenic_variant for none",
    ),
    InfoField(
        "GAS_IMPACT",
        "A",
        "String",
        "Per ALT allele: the IMPACT of GAS_CONSEQUENCE (HIGH, MODERATE, LOW, MODIFIER)",
    ),
    InfoField(
        "GAS_PICK_CONSEQUENCE",
        "A",
        "String",
        "Per ALT allele: the consequences on the picked transcript (GAS_PICK_TRANSCRIPT), "
        "&-joined, most severe first; . where the pick transcript lies beyond 5 kb",
    ),
    InfoField(
        "GAS_PICK_IMPACT",
        "A",
        "String",
        "Per ALT allele: the IMPACT of the picked transcript's most severe consequence",
    ),
    InfoField(
        "GAS_PICK_HGVSC",
        "A",
        "String",
        "Per ALT allele: HGVSc on the picked transcript; . for none",
    ),
    InfoField(
        "GAS_PICK_HGVSP",
        "A",
        "String",
        "Per ALT allele: HGVSp on the picked transcript (%3D for =, as VEP writes it); . for none",
    ),
    InfoField(
        "GAS_CSQ",
        ".",
        "String",
        "Consequence annotations from GAS, one block per ALT allele and transcript within 5 kb, "
        "in Ensembl VEP's layout. Format: ",
    ),
)
BY_ID: dict[str, InfoField] = {f.id: f for f in FIELDS}
IDS: tuple[str, ...] = tuple(f.id for f in FIELDS)
CSQ = "GAS_CSQ"


def header_lines(csq_format: str) -> list[str]:
    """The ``##INFO`` header lines, GAS_CSQ's naming ``csq_format`` as its block layout."""
    return [
        f.header_line()
        if f.id != CSQ
        else InfoField(f.id, f.number, f.type, f.description + csq_format).header_line()
        for f in FIELDS
    ]
