"""Sequence Ontology consequence terms, as Ensembl publishes them: one table of term, rank, impact.

This is the one home of the consequence vocabulary: the engine ranks and renders from it, the
outputs and the results browser list and order from it, the API document takes its enums from it.
Rank is Ensembl's severity order (1 is the most severe); IMPACT is VEP's.
"""

from __future__ import annotations

from dataclasses import dataclass

HIGH, MODERATE, LOW, MODIFIER = "HIGH", "MODERATE", "LOW", "MODIFIER"
IMPACTS = (HIGH, MODERATE, LOW, MODIFIER)  # most severe first


@dataclass(frozen=True)
class Term:
    """One consequence term: its SO name, Ensembl's severity rank and VEP's impact."""

    name: str
    rank: int
    impact: str
    description: str


# Ensembl's table of calculated variant consequences, in its order (the transcript and
# intergenic terms; regulatory terms are left out: GAS has no regulatory features).
TERMS: tuple[Term, ...] = tuple(
    Term(name, rank, impact, description)
    for rank, (name, impact, description) in enumerate(
        (
            ("transcript_ablation", HIGH, "A feature ablation whereby the deleted region includes a transcript feature"),
            ("splice_acceptor_variant", HIGH, "A splice variant that changes the 2 base region at the 3' end of an intron"),
            ("splice_donor_variant", HIGH, "A splice variant that changes the 2 base region at the 5' end of an intron"),
            ("stop_gained", HIGH, "A sequence variant whereby at least one base of a codon is changed, resulting in a premature stop codon"),
            ("frameshift_variant", HIGH, "A sequence variant which causes a disruption of the translational reading frame"),
            ("stop_lost", HIGH, "A sequence variant where at least one base of the terminator codon (stop) is changed, resulting in an elongated transcript"),
            ("start_lost", HIGH, "A codon variant that changes at least one base of the canonical start codon"),
            ("transcript_amplification", HIGH, "A feature amplification of a region containing a transcript"),
            ("inframe_insertion", MODERATE, "An inframe non synonymous variant that inserts bases into the coding sequence"),
            ("inframe_deletion", MODERATE, "An inframe non synonymous variant that deletes bases from the coding sequence"),
            ("missense_variant", MODERATE, "A sequence variant, that changes one or more bases, resulting in a different amino acid sequence but where the length is preserved"),
            ("protein_altering_variant", MODERATE, "A sequence variant which is predicted to change the protein encoded in the coding sequence"),
            ("splice_donor_5th_base_variant", LOW, "A sequence variant that causes a change at the 5th base pair after the start of the intron"),
            ("splice_region_variant", LOW, "A sequence variant in which a change has occurred within the region of the splice site, either within 1-3 bases of the exon or 3-8 bases of the intron"),
            ("splice_donor_region_variant", LOW, "A sequence variant that falls in the region between the 3rd and 6th base after splice junction (5' end of intron)"),
            ("splice_polypyrimidine_tract_variant", LOW, "A sequence variant that falls in the polypyrimidine tract at 3' end of intron between 17 and 3 bases from the end (acceptor -3 to acceptor -17)"),
            ("incomplete_terminal_codon_variant", LOW, "A sequence variant where at least one base of the final codon of an incompletely annotated transcript is changed"),
            ("start_retained_variant", LOW, "A sequence variant where at least one base in the start codon is changed, but the start remains"),
            ("stop_retained_variant", LOW, "A sequence variant where at least one base in the terminator codon is changed, but the terminator remains"),
            ("synonymous_variant", LOW, "A sequence variant where there is no resulting change to the encoded amino acid"),
            ("coding_sequence_variant", MODIFIER, "A sequence variant that changes the coding sequence"),
            ("5_prime_UTR_variant", MODIFIER, "A UTR variant of the 5' UTR"),
            ("3_prime_UTR_variant", MODIFIER, "A UTR variant of the 3' UTR"),
            ("non_coding_transcript_exon_variant", MODIFIER, "A sequence variant that changes non-coding exon sequence in a non-coding transcript"),
            ("intron_variant", MODIFIER, "A transcript variant occurring within an intron"),
            ("NMD_transcript_variant", MODIFIER, "A variant in a transcript that is the target of NMD"),
            ("non_coding_transcript_variant", MODIFIER, "A transcript variant of a non coding RNA gene"),
            ("coding_transcript_variant", MODIFIER, "A transcript variant of a protein coding gene"),
            ("upstream_gene_variant", MODIFIER, "A sequence variant located 5' of a gene"),
            ("downstream_gene_variant", MODIFIER, "A sequence variant located 3' of a gene"),
            ("intergenic_variant", MODIFIER, "A sequence variant located in the intergenic region, between genes"),
            ("sequence_variant", MODIFIER, "A sequence_variant is a non exact copy of a sequence_feature or genome exhibiting one or more sequence_alteration"),
        ),
        start=1,
    )
)  # fmt: skip
BY_NAME: dict[str, Term] = {t.name: t for t in TERMS}
TERM_NAMES: tuple[str, ...] = tuple(t.name for t in TERMS)

# Terms that need the reference sequence to be told apart (with coordinates alone GAS writes
# their SO parent, coding_sequence_variant, unless the alleles decide them whatever the codon).
NEEDS_SEQUENCE = (
    "missense_variant",
    "synonymous_variant",
    "stop_gained",
    "stop_lost",
    "stop_retained_variant",
    "start_retained_variant",
    "protein_altering_variant",
)


# Which transcripts get a GAS_CSQ block: the first of each gene in VEP's pick order (VEP's
# --per_gene; GAS's default, see docs/annotator.md "Consequences"), every one (VEP's default),
# or one per allele (--pick).
TRANSCRIPT_SETS = ("per_gene", "all", "pick")


def rank(name: str) -> int:
    """Ensembl's severity rank of a term (1 is the most severe)."""
    return BY_NAME[name].rank


def impact(name: str) -> str:
    """VEP's IMPACT of a term."""
    return BY_NAME[name].impact
