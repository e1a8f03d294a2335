"""The variant table's columns: one row per ALT allele, in the TSV, the Parquet and the browser.

Plain Python (no numpy, pyarrow or pysam), so the web process and the API document can read the
column list without the annotator's heavy modules: ``annotator.outputs`` writes the files from it,
``workflows.results`` queries and exports them, ``webapp.api_spec`` describes them.
"""

from __future__ import annotations

from dataclasses import dataclass

STRING, INTEGER = "string", "integer"
# A number a source filter compares with (finite as a float: at most 100 digits each side of the
# point, a two-digit exponent).
NUMBER_PATTERN = r"[-+]?(?:[0-9]{1,100}(?:\.[0-9]{0,100})?|\.[0-9]{1,100})(?:[eE][-+]?[0-9]{1,2})?"
# One where= filter on a source column, as the API documents it (webapp.api_spec) and
# workflows.results checks every one: an order test takes a number, the other tests a value,
# presence tests anything (ignored).
WHERE_PATTERN = (
    r"^[a-z][a-z0-9_]{0,80}:(?:(?:lt|le|gt|ge):"
    + NUMBER_PATTERN
    + r"|(?:eq|ne|contains|is|not):\S.{0,199}|(?:has|missing):.{0,200})$"
)
# The largest position a query takes (12 digits: far past any contig; the API document says so).
MAX_POSITION = 10**12 - 1
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


# -- the columns of annotation sources (issue 24) -----------------------------------------------
#
# Which sources a job used, and so which columns its table has, differ from job to job: the
# annotated VCF declares each source in a ``##GAS_source=<ID=…,Prefix=…>`` line beside its
# fields' INFO lines (``GAS_<PREFIX>_<FIELD>``), and ``annotator.outputs`` writes the columns it
# finds there after the fixed ones, typed, with this description in the Parquet schema's metadata
# (``SOURCES_METADATA``), where the variant browser's queries read it back.

FLOAT, FLAG = "float", "flag"
SOURCES_METADATA = b"gas:sources"
_KINDS = {"Integer": INTEGER, "Float": FLOAT, "Flag": FLAG}


@dataclass(frozen=True)
class SourceColumn:
    """A column from an annotation source: its name, type, INFO field, that field's Number
    (A, R: the ALT's value; 0: a flag; 1 or .: the record's) and header text."""

    name: str
    kind: str
    info: str
    number: str
    description: str
    source: str

    @property
    def numeric(self) -> bool:
        return self.kind in (INTEGER, FLOAT)


def _attrs(text: str) -> dict[str, str]:
    """KEY=VALUE pairs of a structured header line's <…> (quoted values may hold commas)."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq]
        j = eq + 1
        if j < n and text[j] == '"':
            value, j = [], j + 1
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                value.append(text[j])
                j += 1
            out[key] = "".join(value)
            j += 1
        else:
            end = text.find(",", j)
            end = n if end < 0 else end
            out[key] = text[j:end]
            j = end
        i = j + 1 if j < n and text[j] == "," else j
    return out


def source_columns_from_header(lines: list[str]) -> tuple[tuple[SourceColumn, ...], list[dict]]:
    """The source columns an annotated VCF's header declares, and each source's provenance."""
    sources, infos = [], {}
    for line in lines:
        if line.startswith("##GAS_source=<"):
            sources.append(_attrs(line.rstrip().removeprefix("##GAS_source=<").removesuffix(">")))
        elif line.startswith("##INFO=<ID=GAS_"):
            a = _attrs(line.rstrip().removeprefix("##INFO=<").removesuffix(">"))
            infos[a.get("ID", "")] = a
    fixed = {c.info for c in TABLE if c.info}
    out: list[SourceColumn] = []
    for src in sources:
        head = f"GAS_{src.get('Prefix', '')}_"
        listed = src["Fields"].split(",") if src.get("Fields") else None
        for info, a in infos.items():
            mine = info in listed if listed is not None else info.startswith(head)
            if mine and info not in fixed:
                name = f"{src['Prefix'].lower()}_{info[len(head) :].lower().replace('.', '_')}"
                kind = _KINDS.get(a.get("Type", ""), STRING)
                out.append(
                    SourceColumn(
                        name, kind, info, a.get("Number", "."), a.get("Description", ""), src["ID"]
                    )
                )
    return tuple(out), sources


def source_columns_from_metadata(
    metadata: dict[bytes, bytes] | None,
) -> tuple[tuple[SourceColumn, ...], list[dict]]:
    """The source columns (and sources) a variant table's schema metadata records; none for a
    table written before sources."""
    import json

    raw = (metadata or {}).get(SOURCES_METADATA)
    if not raw:
        return (), []
    held = json.loads(raw)
    return tuple(SourceColumn(**c) for c in held["columns"]), held["sources"]


def sources_metadata(columns: tuple[SourceColumn, ...], sources: list[dict]) -> bytes:
    import json
    from dataclasses import asdict

    return json.dumps({"columns": [asdict(c) for c in columns], "sources": sources}).encode()
