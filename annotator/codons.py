"""The genetic codes GAS translates with, and what a single-base change means when the codon's
other bases are unknown (coordinates only: the VCF gives the changed base, not its neighbours).

The standard code, and the vertebrate mitochondrial one on MT (AGA and AGG are stops, TGA is Trp,
ATA is Met), as NCBI's translation tables 1 and 2.
"""

from __future__ import annotations

from itertools import product

BASES = "TCAG"
_STANDARD = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
_MITOCHONDRIAL = "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSS**VVVVAAAADDEEGGGG"


def _table(letters: str) -> dict[str, str]:
    return {"".join(c): aa for c, aa in zip(product(BASES, repeat=3), letters, strict=True)}


STANDARD = _table(_STANDARD)
MITOCHONDRIAL = _table(_MITOCHONDRIAL)
THREE_LETTER = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
    "X": "Xaa",
}  # fmt: skip
COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def code_for(contig: str) -> dict[str, str]:
    """The genetic code of a (canonical) contig: mitochondrial on MT, else the standard one."""
    return MITOCHONDRIAL if contig == "MT" else STANDARD


def translate(seq: str, code: dict[str, str]) -> str:
    """Amino acids of whole codons (X for a codon with anything but ACGT)."""
    return "".join(code.get(seq[i : i + 3], "X") for i in range(0, len(seq) - 2, 3))


def reverse_complement(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


# What a base change at one codon position means whatever the codon's other two bases are, for
# the codons a CDS can hold there: sense codons inside it, its start codon (ATG) first, a stop
# codon last. None where the other bases decide it: then only "coding_sequence_variant" is sure.
MIDDLE, FIRST, LAST = "middle", "first", "last"


def _outcome(ref: str, alt: str, code: dict[str, str], where: str) -> str:
    r, a = code[ref], code[alt]
    if where == FIRST:
        return "start_lost" if a != "M" else "start_retained_variant"
    if r == "*":
        return "stop_retained_variant" if a == "*" else "stop_lost"
    if a == "*":
        return "stop_gained"
    return "synonymous_variant" if r == a else "missense_variant"


def _possible(code: dict[str, str], where: str) -> list[str]:
    if where == FIRST:
        return ["ATG"]
    stops = [c for c, aa in code.items() if aa == "*"]
    return stops if where == LAST else [c for c in code if code[c] != "*"]


def _decided(code: dict[str, str]) -> dict[tuple[str, int, str, str], str]:
    table: dict[tuple[str, int, str, str], str] = {}
    for where in (MIDDLE, FIRST, LAST):
        codons = _possible(code, where)
        for pos, ref, alt in product(range(3), BASES, BASES):
            if ref == alt:
                continue
            seen = {
                _outcome(c, c[:pos] + alt + c[pos + 1 :], code, where)
                for c in codons
                if c[pos] == ref
            }
            if len(seen) == 1:
                table[(where, pos, ref, alt)] = seen.pop()
    return table


DECIDED = {"standard": _decided(STANDARD), "mitochondrial": _decided(MITOCHONDRIAL)}


def decided_without_codon(mitochondrial: bool, where: str, pos: int, ref: str, alt: str):
    """The term a change of ``ref`` to ``alt`` at codon position ``pos`` (0-2, transcript
    strand) has for every codon that could be there; None when the other bases decide it."""
    return DECIDED["mitochondrial" if mitochondrial else "standard"].get((where, pos, ref, alt))
