"""Per-transcript consequences of truth VCFs (VEP CSQ, SnpEff ANN/EFF) against GAS's GAS_CSQ.

The parts of `annotator_fidelity.py`'s consequence report that need no annotator: reading each
tool's per-transcript blocks into one shape (`TxCall`), tying a truth transcript to a GAS one
(`match`), counting agreement (`ConsequenceTally`), and the offline "sequence" for the with-sequence
figures (`TruthSequence`: the truth files' REF alleles and the bases of VEP's `Codons`, placed
through the bundle's transcripts, N elsewhere).

How a truth transcript is tied to a GAS one, for one ALT allele:
- **by ID**: the same transcript ID, versions ignored (GRCh38 MANE transcripts carry Ensembl IDs).
- **by structure**, when no GAS block names the truth's ID (GRCh37 bundles have no transcript IDs,
  GRCh38 ones only for MANE): the same gene symbol, strand (when both say), the same coding position
  of the allele (CDS_position when both give it, else the protein position and the allele's place
  in its codon), the same exon number (and exon count, when both give it) and CDS length (when
  both give it). Two transcripts that agree on all of these read this allele's codon the same
  way, so the coding term and the c./p. notation of one hold for the other; alleles outside the
  CDS are not tied by structure.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from annotator.terms import BY_NAME

# Coding terms, most severe first (Ensembl's order), and the class a coding indel falls in.
CODING_TERMS = (
    "stop_gained",
    "frameshift_variant",
    "stop_lost",
    "start_lost",
    "inframe_insertion",
    "inframe_deletion",
    "missense_variant",
    "protein_altering_variant",
    "incomplete_terminal_codon_variant",
    "start_retained_variant",
    "stop_retained_variant",
    "synonymous_variant",
    "coding_sequence_variant",
)
CODING_RANK = {t: i for i, t in enumerate(CODING_TERMS)}
SEQUENCE_PARENT = "coding_sequence_variant"
# Terms that only qualify another one on the same transcript (VEP: intron_variant&
# non_coding_transcript_variant; SnpEff leaves them out): no contradiction if a tool omits them.
QUALIFIERS = frozenset(
    (
        "non_coding_transcript_variant",
        "coding_transcript_variant",
        "NMD_transcript_variant",
        "feature_elongation",
        "feature_truncation",
    )
)

# Other names for the same SO term: older VEP releases and SnpEff (ANN) → today's VEP name.
SO_SYNONYMS = {
    "non_coding_exon_variant": "non_coding_transcript_exon_variant",
    "nc_transcript_variant": "non_coding_transcript_variant",
    "initiator_codon_variant": "start_lost",
    "conservative_inframe_insertion": "inframe_insertion",
    "disruptive_inframe_insertion": "inframe_insertion",
    "conservative_inframe_deletion": "inframe_deletion",
    "disruptive_inframe_deletion": "inframe_deletion",
    "5_prime_UTR_premature_start_codon_gain_variant": "5_prime_UTR_variant",
    "start_retained": "start_retained_variant",
}
# SnpEff 3 (EFF) effect names → SO.
EFF_TERMS = {
    "NON_SYNONYMOUS_CODING": "missense_variant",
    "SYNONYMOUS_CODING": "synonymous_variant",
    "STOP_GAINED": "stop_gained",
    "STOP_LOST": "stop_lost",
    "START_LOST": "start_lost",
    "NON_SYNONYMOUS_START": "start_lost",
    "SYNONYMOUS_START": "start_retained_variant",
    "SYNONYMOUS_STOP": "stop_retained_variant",
    "FRAME_SHIFT": "frameshift_variant",
    "CODON_INSERTION": "inframe_insertion",
    "CODON_CHANGE_PLUS_CODON_INSERTION": "inframe_insertion",
    "CODON_DELETION": "inframe_deletion",
    "CODON_CHANGE_PLUS_CODON_DELETION": "inframe_deletion",
    "CODON_CHANGE": "coding_sequence_variant",
    "SPLICE_SITE_ACCEPTOR": "splice_acceptor_variant",
    "SPLICE_SITE_DONOR": "splice_donor_variant",
    "SPLICE_SITE_REGION": "splice_region_variant",
    "UTR_5_PRIME": "5_prime_UTR_variant",
    "START_GAINED": "5_prime_UTR_variant",
    "UTR_3_PRIME": "3_prime_UTR_variant",
    "INTRON": "intron_variant",
    "UPSTREAM": "upstream_gene_variant",
    "DOWNSTREAM": "downstream_gene_variant",
    "EXON": "non_coding_transcript_exon_variant",
    "INTERGENIC": "intergenic_variant",
}
ANN_FIELDS = (
    "Allele",
    "Annotation",
    "Annotation_Impact",
    "Gene_Name",
    "Gene_ID",
    "Feature_Type",
    "Feature_ID",
    "Transcript_BioType",
    "Rank",
    "HGVS.c",
    "HGVS.p",
    "cDNA.pos/cDNA.length",
    "CDS.pos/CDS.length",
    "AA.pos/AA.length",
    "Distance",
)


@dataclass
class TxCall:
    """One tool's consequence for one ALT allele on one transcript, in one shape for all tools."""

    allele: int  # ALT index, 0-based
    transcript: str = ""  # as written (version kept); "" when the tool names none
    gene: str = ""  # symbol
    terms: tuple[str, ...] = ()  # SO names, synonyms resolved
    strand: int | None = None  # 1 / -1
    cds_pos: int | None = None  # first CDS position of the allele
    cds_len: int | None = None
    protein_pos: int | None = None
    exon: str = ""  # "n/total" or "n"
    hgvsc: str = ""  # after the reference's "ID:"
    hgvs_reference: str = ""  # that "ID" (versioned), "" when none is written
    hgvsp: str = ""  # after "ID:", %-escapes decoded
    codons: str = ""  # VEP's "ccA/ccC"
    biotype: str = ""
    worst_only: bool = False  # the tool wrote only its most severe term (vcf2maf's MAF)

    @property
    def coding_term(self) -> str | None:
        """The most severe coding term (None: the tool calls no coding consequence here)."""
        found = [t for t in self.terms if t in CODING_RANK]
        return min(found, key=CODING_RANK.__getitem__) if found else None

    @property
    def codon_index(self) -> int | None:
        """Where a changed base sits in its codon (VEP writes it upper case): 0, 1 or 2."""
        ref = self.codons.split("/")[0]
        ups = [i for i, ch in enumerate(ref) if ch.isupper()]
        return ups[0] % 3 if ups and len(ref) % 3 == 0 else None


def worst(terms: tuple[str, ...]) -> str:
    """The most severe of some terms by Ensembl's rank ("" for none; unknown terms last)."""
    return min(terms, key=lambda t: BY_NAME[t].rank if t in BY_NAME else 999, default="")


def unversioned(transcript: str) -> str:
    return transcript.split(".")[0] if transcript.startswith(("ENST", "NM_", "XM_")) else transcript


def normalise_terms(terms: list[str]) -> tuple[str, ...]:
    return tuple(SO_SYNONYMS.get(t, t) for t in terms if t)


def _first_int(text: str) -> int | None:
    m = re.match(r"\??-?(\d+)", text or "")
    return int(m.group(1)) if m else None


def _other_versions(a: str, b: str) -> bool:
    """Two versioned IDs of one transcript that differ in their version (ENST...9 vs ...8)."""
    if "." not in a or "." not in b:
        return False
    (a_id, _, a_v), (b_id, _, b_v) = a.rpartition("."), b.rpartition(".")
    return a_id == b_id and a_v != b_v


def _after_colon(text: str) -> str:
    return unquote(text.rsplit(":", 1)[-1]) if text else ""


def header_formats(header: list[str]) -> dict[str, list[str]]:
    """The ``|``-separated Format of each INFO field that declares one (CSQ, GAS_CSQ, ANN...)."""
    out = {}
    for line in header:
        m = re.match(r"##INFO=<ID=([^,]+),.*?Format: ?'?([^\"']+)", line)
        if m:
            out[m.group(1)] = [f.strip() for f in m.group(2).split("|")]
    return out


def vep_alleles(ref: str, alts: list[str]) -> list[str]:
    """VEP's Allele column for each ALT: the ALT less the first base when every allele shares it
    and the record is not all SNVs ('-' when nothing is left)."""
    shared = all(a and ref and a[0] == ref[0] for a in alts)
    if shared and (any(len(a) != len(ref) for a in alts) or len(ref) > 1):
        return [a[1:] or "-" for a in alts]
    return list(alts)


def _allele_index(value: str, ref: str, alts: list[str]) -> int | None:
    vep = vep_alleles(ref, alts)
    if value in vep:
        return vep.index(value)
    if value in alts:
        return alts.index(value)
    return 0 if len(alts) == 1 else None


def csq_calls(
    value: str, fields: list[str], ref: str, alts: list[str], worst_only: bool = False
) -> list[TxCall]:
    """VEP-layout blocks (VEP's CSQ, GAS's GAS_CSQ) by their header's Format; ``worst_only``:
    the writer kept only each transcript's most severe term."""
    out = []
    for block in value.split(","):
        v = dict(zip(fields, block.split("|"), strict=False))
        if v.get("ALLELE_NUM", "").isdigit():
            idx: int | None = int(v["ALLELE_NUM"]) - 1
        else:
            idx = _allele_index(v.get("Allele", ""), ref, alts)
        if idx is None:
            continue
        strand = v.get("STRAND", "")
        out.append(
            TxCall(
                allele=idx,
                transcript=v.get("Feature", ""),
                gene=v.get("SYMBOL", ""),
                terms=normalise_terms(v.get("Consequence", "").split("&")),
                strand=int(strand) if strand in ("1", "-1") else None,
                cds_pos=_first_int(v.get("CDS_position", "")),
                cds_len=_first_int(v.get("CDS_position", "").partition("/")[2]),
                protein_pos=_first_int(v.get("Protein_position", "")),
                exon=v.get("EXON", ""),
                hgvsc=_after_colon(v.get("HGVSc", "")),
                hgvs_reference=v.get("HGVSc", "").rpartition(":")[0],
                hgvsp=_after_colon(v.get("HGVSp", "")),
                codons=v.get("Codons", ""),
                biotype=v.get("BIOTYPE", ""),
                worst_only=worst_only,
            )
        )
    return out


def ann_calls(value: str, ref: str, alts: list[str]) -> list[TxCall]:
    """SnpEff 4+ ANN blocks (its fixed layout)."""
    out = []
    for block in value.split(","):
        v = dict(zip(ANN_FIELDS, block.split("|"), strict=False))
        idx = alts.index(v["Allele"]) if v.get("Allele") in alts else None
        if idx is None and len(alts) == 1:
            idx = 0
        if idx is None or v.get("Feature_Type") != "transcript":
            continue
        cds, _, cds_len = v.get("CDS.pos/CDS.length", "").partition("/")
        out.append(
            TxCall(
                allele=idx,
                transcript=v.get("Feature_ID", ""),
                gene=v.get("Gene_Name", ""),
                terms=normalise_terms(v.get("Annotation", "").split("&")),
                cds_pos=_first_int(cds),
                cds_len=_first_int(cds_len),
                protein_pos=_first_int(v.get("AA.pos/AA.length", "")),
                exon=v.get("Rank", ""),
                hgvsc=v.get("HGVS.c", ""),
                hgvsp=v.get("HGVS.p", ""),
                biotype=v.get("Transcript_BioType", ""),
            )
        )
    return out


def eff_calls(value: str, alts: list[str]) -> list[TxCall]:
    """SnpEff 3 EFF blocks: Effect(Impact|Class|Codon_Change|AA_change|AA_length|Gene|BioType|
    Coding|Transcript|Exon[|ERRORS|WARNINGS]); they do not say which ALT (one-ALT records only)."""
    if len(alts) != 1:
        return []
    out = []
    for block in value.split(","):
        m = re.match(r"([A-Z0-9_+]+)\((.*)\)", block)
        if not m:
            continue
        p = (m.group(2).split("|") + [""] * 10)[:10]
        aa = re.match(r"[A-Z*?]?(\d+)", p[3])
        out.append(
            TxCall(
                allele=0,
                transcript=p[8],
                gene=p[5],
                terms=tuple(EFF_TERMS.get(t, t) for t in m.group(1).split("+")),
                protein_pos=int(aa.group(1)) if aa else None,
                exon=p[9],
                codons=p[2],
                biotype=p[6],
            )
        )
    return out


def _exon_parts(exon: str) -> tuple[str, str]:
    n, _, total = exon.partition("/")
    return n, total


def structure_agrees(truth: TxCall, gas: TxCall) -> bool:
    """Whether two transcripts read this allele's codon the same way (see the module's words)."""
    if not truth.gene or truth.gene.upper() != gas.gene.upper():
        return False
    if truth.strand is not None and gas.strand is not None and truth.strand != gas.strand:
        return False
    if truth.cds_pos is not None and gas.cds_pos is not None:
        if truth.cds_pos != gas.cds_pos:
            return False
    elif truth.protein_pos is not None and gas.protein_pos is not None:
        if truth.protein_pos != gas.protein_pos:
            return False
        ti, gi = truth.codon_index, gas.codon_index
        if gas.cds_pos is not None:
            gi = (gas.cds_pos - 1) % 3
        if ti is not None and gi is not None and ti != gi:
            return False
    else:
        return False
    tn, tt = _exon_parts(truth.exon)
    gn, gt = _exon_parts(gas.exon)
    if tn and gn and tn != gn:
        return False
    if tt and gt and tt != gt:
        return False
    return not (truth.cds_len and gas.cds_len and truth.cds_len != gas.cds_len)


def match(truth: TxCall, gas_calls: list[TxCall]) -> tuple[TxCall | None, str]:
    """The GAS block for the truth's transcript, and how it was tied: "id", "structure" or ""."""
    if truth.transcript:
        want = unversioned(truth.transcript)
        for g in gas_calls:
            if g.transcript and unversioned(g.transcript) == want:
                return g, "id"
    for g in gas_calls:
        if structure_agrees(truth, g):
            return g, "structure"
    return None, ""


_DUP_DEL_BASES = re.compile(r"(del|dup)[ACGTN]+(?=$|ins)")
_SAME_AA = re.compile(r"^p\.\(?([A-Z][a-z]{2})(\d+)\1\)?$")


def normalise_hgvs(text: str) -> str:
    """Notation that differs between tools but not in meaning: bases after del/dup (SnpEff
    writes them, VEP not), SnpEff's p.Pro814Pro for VEP's p.Pro814=, and parentheses."""
    text = _DUP_DEL_BASES.sub(r"\1", text)
    m = _SAME_AA.match(text)
    if m:
        return f"p.{m.group(1)}{m.group(2)}="
    return text.replace("(", "").replace(")", "")


def indel_class(terms: tuple[str, ...]) -> str:
    if "frameshift_variant" in terms:
        return "frameshift"
    if {"inframe_insertion", "inframe_deletion", "protein_altering_variant"} & set(terms):
        return "inframe"
    return "other coding"


@dataclass
class ConsequenceTally:
    """One tool against GAS, for one mode (coordinates only / with sequence) and build."""

    snvs: int = 0  # coding SNV alleles (the tool gives a coding term on some transcript)
    snvs_matched: int = 0
    snvs_held: int = 0  # ... whose codon the offline sequence holds
    snv_agree: int = 0  # every matched transcript's coding term agrees
    snv_held_agree: int = 0
    pairs: int = 0  # (allele, transcript) pairs of coding SNVs
    pairs_agree: int = 0
    by: Counter = field(default_factory=Counter)  # "id" / "structure" pairs
    classes: Counter = field(default_factory=Counter)  # (tool term, GAS term) disagreements
    contradictions: Counter = field(default_factory=Counter)  # (GAS term, tool's terms)
    contradiction_pairs: int = 0  # SNV pairs checked for contradictions
    indels: int = 0
    indels_matched: int = 0
    indel_agree: int = 0
    indel_classes: Counter = field(default_factory=Counter)
    hgvs: Counter = field(default_factory=Counter)  # (kind, how, "n"/"ok")
    hgvs_misses: Counter = field(default_factory=Counter)  # (kind, tool's, GAS's) examples
    examples: list[str] = field(default_factory=list)

    def add(self, other: ConsequenceTally) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(value)
            elif isinstance(mine, list):
                mine.extend(value)
            else:
                setattr(self, name, mine + value)


def _is_snv(ref: str, alt: str) -> bool:
    return len(ref) == 1 and len(alt) == 1 and alt in "ACGTacgt" and ref != alt


def _is_indel(ref: str, alt: str) -> bool:
    return bool(re.fullmatch(r"[ACGTNacgtn]+", alt)) and len(ref) != len(alt)


def _tied(truth: list[TxCall], gas: list[TxCall]) -> list[tuple[TxCall, TxCall, str]]:
    """Each truth call that ties to a GAS one, with it and how."""
    out = []
    for c in truth:
        g, how = match(c, gas)
        if g is not None:
            out.append((c, g, how))
    return out


def tally_record(
    t: ConsequenceTally,
    where: str,
    ref: str,
    alts: list[str],
    truth: list[TxCall],
    gas: list[TxCall],
    held: set[int] | None = None,
    unknown_terms: frozenset[str] = frozenset(),
) -> None:
    """Add one record's alleles to the tally. ``held``: the alleles whose codon the offline
    sequence holds (None when no sequence was added); ``unknown_terms``: terms the tool has no
    name for (never a contradiction)."""
    for i, alt in enumerate(alts):
        mine = [c for c in truth if c.allele == i]
        theirs = [g for g in gas if g.allele == i]
        coding = [c for c in mine if c.coding_term]
        snv = _is_snv(ref, alt)
        pairs = _tied(coding if snv or _is_indel(ref, alt) else [], theirs)
        if snv and coding:
            t.snvs += 1
            if pairs:
                t.snvs_matched += 1
                ok = True
                for c, g, how in pairs:
                    t.pairs += 1
                    t.by[how] += 1
                    same = c.coding_term == g.coding_term
                    t.pairs_agree += same
                    if not same:
                        ok = False
                        t.classes[(c.coding_term, g.coding_term or "none")] += 1
                        t.examples.append(
                            f"{where}>{alt} {c.gene} {c.transcript or '?'} ({how}): "
                            f"{'&'.join(c.terms)} / GAS {'&'.join(g.terms) or 'none'}"
                        )
                t.snv_agree += ok
                if held is not None and i in held:
                    t.snvs_held += 1
                    t.snv_held_agree += ok
        if snv:
            # Contradictions: a GAS term (other than the SO parent) the tool does not give on
            # the same transcript; every SNV tied by ID, and coding ones tied by structure too.
            for c, g, how in _tied(mine, theirs):
                if how == "structure" and not c.coding_term:
                    continue
                t.contradiction_pairs += 1
                # A tool that wrote only its most severe term is contradicted by GAS's most
                # severe one alone.
                said = (worst(g.terms),) if c.worst_only else g.terms
                skip = QUALIFIERS | unknown_terms | {SEQUENCE_PARENT}
                for term in said:
                    if term and term not in c.terms and term not in skip:
                        t.contradictions[(term, "&".join(c.terms))] += 1
                        t.examples.append(
                            f"{where}>{alt} {c.gene} {c.transcript or '?'} ({how}): "
                            f"contradiction: GAS {term}, tool {'&'.join(c.terms)}"
                        )
        if _is_indel(ref, alt) and coding:
            t.indels += 1
            if pairs:
                t.indels_matched += 1
                ok = True
                for c, g, _ in pairs:
                    want, got = indel_class(c.terms), indel_class(g.terms)
                    if not g.coding_term:
                        got = "none"
                    if want != got:
                        ok = False
                        t.indel_classes[(want, got)] += 1
                t.indel_agree += ok
        for c, g, how in _tied(mine, theirs):
            shape = "SNV" if _is_snv(ref, alt) else "indel" if _is_indel(ref, alt) else "other"
            if _other_versions(c.hgvs_reference, g.hgvs_reference):
                # The same transcript ID in another release (GENCODE 44 in the default bundle,
                # the tool's own): its exons may differ, so its positions are not comparable.
                t.hgvs[("HGVSc", "other version", "n")] += bool(c.hgvsc)
                continue
            for kind, a, b in (("HGVSc", c.hgvsc, g.hgvsc), ("HGVSp", c.hgvsp, g.hgvsp)):
                if not a:
                    continue
                same = normalise_hgvs(a) == normalise_hgvs(b)
                t.hgvs[(kind, how, "n")] += 1
                t.hgvs[(kind, how, "ok")] += same
                t.hgvs[(kind, shape, "n")] += 1
                t.hgvs[(kind, shape, "ok")] += same
                if not same and len(t.hgvs_misses) < 200:
                    t.hgvs_misses[(kind, a, b or "none")] += 1


# Terms a tool has no name for, so it cannot be said to contradict GAS with another one there.
NOT_IN_VOCABULARY = {
    "SnpEff": frozenset(
        (
            "splice_polypyrimidine_tract_variant",
            "splice_donor_region_variant",
            "splice_donor_5th_base_variant",
        )
    ),
}


def _pct(a: int, n: int) -> str:
    return f"{100 * a / n:.1f}% ({a}/{n})" if n else "n/a"


def report_lines(tool: str, t: ConsequenceTally, show: int = 0) -> list[str]:
    """The printed figures of one tally."""
    out = [
        f"  {tool}: coding SNVs {t.snvs}, a transcript tied for {t.snvs_matched} "
        f"(pairs by ID {t.by['id']}, by structure {t.by['structure']})",
        f"    coding term agrees: {_pct(t.snv_agree, t.snvs_matched)} of alleles "
        f"(every tied transcript), {_pct(t.pairs_agree, t.pairs)} of transcript pairs",
    ]
    if t.snvs_held or t.snv_held_agree:
        out.append(
            f"    where the offline sequence holds the codon: {_pct(t.snv_held_agree, t.snvs_held)}"
        )
    for (a, b), n in t.classes.most_common():
        out.append(f"      {a} / GAS {b}: {n}")
    out.append(
        f"    contradictions (a GAS term other than {SEQUENCE_PARENT} and the qualifiers the tool "
        f"does not give on that transcript), SNVs: {sum(t.contradictions.values())} in "
        f"{t.contradiction_pairs} transcript pairs"
    )
    for (g, c), n in t.contradictions.most_common():
        out.append(f"      GAS {g} / {tool} {c}: {n}")
    out.append(
        f"    coding indels {t.indels}, tied {t.indels_matched}: frameshift/inframe agrees "
        f"{_pct(t.indel_agree, t.indels_matched)}"
    )
    for (a, b), n in t.indel_classes.most_common():
        out.append(f"      {a} / GAS {b}: {n}")
    for kind in ("HGVSc", "HGVSp"):
        figures = [
            f"{how or '?'} {_pct(t.hgvs[(kind, how, 'ok')], t.hgvs[(kind, how, 'n')])}"
            for how in ("id", "structure")
            if t.hgvs[(kind, how, "n")]
        ]
        shapes = [
            f"{shape}s {_pct(t.hgvs[(kind, shape, 'ok')], t.hgvs[(kind, shape, 'n')])}"
            for shape in ("SNV", "indel", "other")
            if t.hgvs[(kind, shape, "n")]
        ]
        if figures:
            out.append(
                f"    {kind} agrees (same transcript by "
                + ", by ".join(figures)
                + "; "
                + ", ".join(shapes)
                + ")"
            )
    if t.hgvs[("HGVSc", "other version", "n")]:
        out.append(
            f"    HGVSc not compared: {t.hgvs[('HGVSc', 'other version', 'n')]} where GAS's "
            "transcript is another version of the tool's (another release's exons)"
        )
    for (kind, a, b), n in list(t.hgvs_misses.most_common())[:show]:
        out.append(f"      {kind} {a} / GAS {b}" + (f" ({n}x)" if n > 1 else ""))
    out += [f"      - {e}" for e in t.examples[:show]]
    return out


# --- the offline sequence: REF alleles and VEP's codon bases, placed through the bundle -------

COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


@dataclass
class TruthSequence:
    """Bases known from the truth files, per contig (canonical names), with the conflicts."""

    bases: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    conflicts: set[tuple[str, int]] = field(default_factory=set)
    held: set[tuple[str, int, int]] = field(default_factory=set)  # (contig, POS, allele) placed
    unplaced: Counter = field(default_factory=Counter)  # why a codon could not be placed

    def put(self, contig: str, pos0: int, base: str) -> None:
        base = base.upper()
        have = self.bases[contig].get(pos0)
        if have is not None and have != base:
            self.conflicts.add((contig, pos0))
        self.bases[contig][pos0] = base

    def write_fasta(self, path: Path, pad: int = 1000) -> dict[str, int]:
        """A FASTA of every contig touched, N where no base is known (conflicting bases too),
        each as long as its last known base + ``pad``. Returns the contig lengths."""
        lengths = {}
        with open(path, "w") as f:
            for contig in sorted(self.bases, key=_contig_order):
                known = self.bases[contig]
                n = max(known) + 1 + pad
                seq = np.full(n, ord("N"), np.uint8)
                for p, b in known.items():
                    if (contig, p) not in self.conflicts:
                        seq[p] = ord(b)
                f.write(f">{contig}\n")
                for i in range(0, n, 60):
                    f.write(seq[i : i + 60].tobytes().decode() + "\n")
                lengths[contig] = n
        return lengths


def _contig_order(name: str) -> tuple[int, int | str]:
    return (0, int(name)) if name.isdigit() else (1, name)


class CodonPlacer:
    """Places VEP's codon bases on the genome through the bundle's coding transcripts."""

    def __init__(self, bundle):
        self.bundle = bundle
        t = bundle.transcripts
        self.t = t
        self.names: dict[str, list[int]] = defaultdict(list)
        for row, name in enumerate(bundle.genes["gene_name"].to_pylist()):
            self.names[name.upper()].append(row)
        self.minus = bundle.minus
        self.gene_of = t.table["gene"].to_numpy()
        self.cindex = bundle.contig_index()

    def _cds_bases(self, ti: int) -> np.ndarray:
        """The transcript's CDS positions (0-based genome keys) in transcript order."""
        t = self.t
        lo, hi = int(t.cds[0, ti]), int(t.cds[1, ti])
        a, b = int(t.exon_offset[ti]), int(t.exon_offset[ti + 1])
        parts = [
            np.arange(max(int(s), lo), min(int(e), hi))
            for s, e in zip(t.exons[0, a:b], t.exons[1, a:b], strict=True)
            if s < hi and e > lo
        ]
        keys = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return keys[::-1] if self.minus[self.gene_of[ti]] else keys

    @staticmethod
    def _snv_fits(index: int, call: TxCall) -> bool:
        """Whether an SNV at 0-based CDS index ``index`` is where the tool says it is."""
        if call.cds_pos is not None:
            return index == call.cds_pos - 1
        if call.protein_pos is None or index // 3 != call.protein_pos - 1:
            return False
        return call.codon_index is None or index % 3 == call.codon_index

    def place(
        self, seq: TruthSequence, contig: str, pos: int, ref: str, alt: str, call: TxCall
    ) -> bool:
        """Write the ref side of ``call.codons`` where a bundle transcript of its gene puts that
        codon, when every such transcript agrees; record why not otherwise."""
        ref_codons = call.codons.split("/")[0]
        if not ref_codons or ref_codons == "-" or call.protein_pos is None:
            seq.unplaced["no codons"] += 1
            return False
        c = contig if contig in self.cindex else None
        if c is None:
            seq.unplaced["contig not in the bundle"] += 1
            return False
        base_key = self.cindex[c] << 32
        first = (call.protein_pos - 1) * 3  # 0-based CDS index of the codon's first base
        near = {base_key + p for p in range(pos - 2, pos + len(ref))}  # the record's bases ±1
        placements = set()
        for g in self.names.get(call.gene.upper(), []):
            if call.strand is not None and (call.strand == -1) != bool(self.minus[g]):
                continue
            for ti in range(int(self.t.gene_offset[g]), int(self.t.gene_offset[g + 1])):
                if self.t.cds[0, ti] < 0:
                    continue
                keys = self._cds_bases(ti)
                if first + len(ref_codons) > len(keys):
                    continue
                where = keys[first : first + len(ref_codons)]
                if not near & set(where.tolist()):
                    continue
                if len(ref) == 1 == len(alt):  # an SNV: its own base's place in the CDS
                    at = np.flatnonzero(keys == base_key + pos - 1)
                    if not len(at) or not self._snv_fits(int(at[0]), call):
                        continue
                elif call.cds_pos is not None:
                    hit = np.flatnonzero(np.isin(keys, list(near)))
                    if call.cds_pos - 1 not in set(hit.tolist()):
                        continue
                placements.add((tuple(where.tolist()), bool(self.minus[g])))
        if not placements:
            seq.unplaced["no bundle transcript puts the codon there"] += 1
            return False
        if len(placements) > 1:
            seq.unplaced["bundle transcripts disagree on where it lies"] += 1
            return False
        ((placed, minus),) = placements
        text = ref_codons.translate(COMPLEMENT) if minus else ref_codons
        for k, b in zip(placed, text, strict=True):
            seq.put(contig, k & 0xFFFFFFFF, b)
        seq.held.add((contig, pos, call.allele))
        return True
