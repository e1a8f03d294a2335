"""Per-transcript consequences of every ALT allele, in Sequence Ontology terms, VEP's way.

For one block of alleles the caller pairs each allele with every transcript of every gene whose
body +/- 5 kb covers it, places the allele on the transcript (exon, intron, splice sites, UTR,
CDS; cDNA, CDS and protein positions) with numpy over all pairs at once, and renders one VEP-style
``GAS_CSQ`` block per pair with Arrow's string kernels. What needs codons (the coding terms of
SNVs and MNVs, HGVSp, indel HGVSc with its 3' shift) comes from the reference sequence when one
was added to the bundle; without it only what the alleles decide whatever the codon is called, and
``coding_sequence_variant`` (the SO parent) stands for the rest. See docs/annotator.md,
"Consequences".
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from annotator import kernels
from annotator.codons import (
    FIRST,
    LAST,
    MIDDLE,
    THREE_LETTER,
    code_for,
    decided_without_codon,
    reverse_complement,
    translate,
)
from annotator.compiled import join_rows
from annotator.terms import TERM_NAMES, TERMS, TRANSCRIPT_SETS

if TYPE_CHECKING:
    from annotator.bundle import Bundle

FLANK = 5000  # VEP's up/downstream distance

LOCAL = np.int64(0xFFFFFFFF)
CSQ_FORMAT = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|"
    "cDNA_position|CDS_position|Protein_position|Amino_acids|Codons|DISTANCE|STRAND|CANONICAL|"
    "MANE|FLAGS|PICK"
)
T = {name: i for i, name in enumerate(TERM_NAMES)}  # term → bit
RANK = np.array([t.rank for t in TERMS], np.int64)
IMPACT_OF = [t.impact for t in TERMS]
SNV, MNV, DEL, INS, OTHER = range(5)  # allele kinds after trimming
# The terms codons decide: the sequence replaces what coordinates gave for them.
_CODON_TERMS = sum(
    1 << T[name]
    for name in (
        "missense_variant",
        "synonymous_variant",
        "stop_gained",
        "stop_lost",
        "stop_retained_variant",
        "start_lost",
        "start_retained_variant",
    )
)
_COMPLEMENT = np.frombuffer(bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan"), np.uint8)


class Bases:
    """Each allele's bases as text, read from the block only where asked for (most alleles'
    are never needed as Python strings)."""

    def __init__(self, data: np.ndarray, start: np.ndarray, end: np.ndarray):
        self.data, self.start, self.end = data, start, end

    def __getitem__(self, i: int) -> str:
        return self.data[self.start[i] : self.end[i]].tobytes().decode("ascii", "replace")

    def __len__(self) -> int:
        return len(self.start)

    def arrow(self, empty: str = "") -> pa.Array:
        """Every allele's bases as one string array (``empty`` for none), in one gather."""
        length = np.maximum(self.end - self.start, 0)
        blank = length == 0
        length = np.where(blank, len(empty), length)
        offsets = np.concatenate([[0], np.cumsum(length)]).astype(np.int32)
        total = int(offsets[-1])
        step = np.arange(total) - np.repeat(offsets[:-1], length)
        pad = np.frombuffer(empty.encode() or b"\0", np.uint8)
        src = np.where(np.repeat(blank, length), -1, np.repeat(self.start, length) + step)
        values = np.where(src < 0, pad[step % len(pad)], self.data[np.maximum(src, 0)])
        return pa.Array.from_buffers(
            pa.string(),
            len(length),
            [None, pa.py_buffer(offsets), pa.py_buffer(values.astype(np.uint8).tobytes())],
        )


@dataclass
class Alleles:
    """One block's ALT alleles, trimmed as the engine places them (see engine._allele_queries)."""

    start: np.ndarray  # key of the first REF base the allele changes; for an insertion, the
    end: np.ndarray  # insertion point (start == end): the bases before and after it flank it
    kind: np.ndarray  # SNV, MNV, DEL, INS, OTHER
    ref: Bases  # trimmed REF and ALT bases, upper-case ('' for none)
    alt: Bases
    vep_allele: pa.Array  # the allele as VEP names it in CSQ (shared first base removed, '-')
    contig: np.ndarray  # contig index (-1: unknown contig)
    ref_ok: np.ndarray  # bool: REF matches the reference sequence (True without one)
    rec: np.ndarray  # the record of each allele (ascending)
    ref_len: np.ndarray  # len(ref), len(alt)
    alt_len: np.ndarray


@dataclass
class Called:
    """What the caller gives the engine for one block."""

    csq: pa.Array  # per record ';GAS_CSQ=' and its ','-joined blocks (binary)
    worst: np.ndarray  # per allele the most severe term's index in TERMS
    pick_terms: pa.Array  # per allele the picked transcript's terms, '&'-joined ('.' none)
    pick_impact: pa.Array
    pick_hgvsc: pa.Array
    pick_hgvsp: pa.Array


def _strings(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _repeated(text: str, n: int) -> pa.Array:
    """``text`` n times, made from buffers (a Python list of n strings costs ~50 ns each)."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(data)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
    )


def _sparse(n: int, rows: list[int], values: list[str]) -> pa.Array:
    """n strings: ``values`` at ``rows``, '' elsewhere (most pairs have no codon or HGVSp)."""
    if not rows:
        return _repeated("", n)
    where = np.full(n, len(rows), np.int64)
    where[rows] = np.arange(len(rows))
    return kernels.take(_strings([*values, ""]), pa.array(where))


def _num(values: np.ndarray) -> pa.Array:
    return kernels.cast(pa.array(values), pa.string())


def _where(mask: np.ndarray, a, b) -> pa.Array:
    return kernels.if_else(pa.array(mask), a, b)


def _join(*parts, sep: str = "") -> pa.Array:
    return kernels.binary_join_element_wise(*parts, sep)


class ConsequenceCaller:
    """Calls consequences against one bundle (and its reference sequence, if any)."""

    def __init__(self, bundle: Bundle, sequence=None, transcripts: str = "per_gene"):
        if transcripts not in TRANSCRIPT_SETS:
            raise ValueError(f"transcripts must be one of {', '.join(TRANSCRIPT_SETS)}")
        self.transcripts = transcripts
        self.b = bundle
        self.seq = sequence
        # Which contigs the sequence holds: pairs elsewhere skip the sequence-based steps.
        self.held = np.array(
            [sequence is not None and sequence.length(i) > 0 for i in range(len(bundle.contigs))]
            + [False]  # contig -1 (unknown) reads the last
        )
        tx = bundle.transcripts
        table = tx.table
        self.gene_offset = tx.gene_offset
        self.t_start, self.t_end = tx.span[0], tx.span[1]
        self.lo, self.hi = tx.cds[0], tx.cds[1]
        self.exon_offset = tx.exon_offset
        self.es, self.ee = tx.exons[0], tx.exons[1]
        n = len(self.t_start)
        self.n_exons = np.diff(self.exon_offset)
        owner = np.repeat(np.arange(n, dtype=np.int64), self.n_exons)
        self.exon_key = (owner << 32) | (self.es & LOCAL)
        length = self.ee - self.es
        total = np.cumsum(length)
        first = self.exon_offset[:-1]
        before = np.where(self.n_exons > 0, total[np.maximum(self.exon_offset[1:] - 1, 0)], 0)
        self.tx_len = before - np.where(first > 0, total[np.maximum(first - 1, 0)], 0)
        self.tx_len = np.where(self.n_exons > 0, self.tx_len, 0)
        self.cum = (
            total - length - np.repeat(np.where(first > 0, total[first - 1], 0), self.n_exons)
        )
        self.cum_key = (owner << 32) | self.cum
        gene = table["gene"].to_numpy().astype(np.int64)
        self.gene = gene
        self.minus = bundle.minus[gene]
        self.coding = self.lo >= 0
        f0 = self._exonic_before(np.arange(n), np.where(self.coding, self.lo, self.t_start))
        f1 = self._exonic_before(np.arange(n), np.where(self.coding, self.hi, self.t_start))
        self.cds_len = np.where(self.coding, f1 - f0, 0)
        # Exonic bases before the coding span's ends, for the UTR terms (read for coding
        # transcripts only).
        self.before_lo, self.before_hi = f0, f1
        self.cds_start = np.where(self.minus, self.tx_len - f1, f0)  # transcript-order offset
        start_nf = table["cds_start_nf"].to_numpy(zero_copy_only=False)
        end_nf = table["cds_end_nf"].to_numpy(zero_copy_only=False)
        # The frame counts from the CDS start, so it is known where the start is: tagged as
        # found and, for a CDS that is no whole number of codons (incomplete at one end or the
        # other), shown to be found: on MT (GENCODE's mitochondrial CDSs end in stops that
        # polyadenylation completes) or by a start codon in the sequence. The last codon is a
        # whole stop codon only on a complete CDS.
        whole = self.cds_len % 3 == 0
        self.start_known = self.coding & ~start_nf & whole
        self.end_known = self.coding & ~end_nf & whole
        on_mt = np.array([c == "MT" for c in bundle.contigs])[
            (self.t_start >> 32).clip(0, len(bundle.contigs) - 1)
        ]
        self.start_known |= self.coding & ~start_nf & ~whole & on_mt
        if sequence is not None:
            odd = np.flatnonzero(self.coding & ~start_nf & ~whole & ~on_mt)
            if len(odd):
                self.start_known[odd[self._starts_with_atg(odd)]] = True
        # Coding transcripts whose CDS could not be tied to them (rebuilt default bundles):
        # exonic changes are coding_transcript_variant, and c. positions are unknown.
        self.cds_unknown = (
            table["cds_unknown"].to_numpy(zero_copy_only=False)
            if "cds_unknown" in table.column_names
            else np.zeros(n, bool)
        )
        self.nmd = kernels.equal(table["biotype"], "nonsense_mediated_decay").to_numpy(
            zero_copy_only=False
        )
        self.mt = np.array([c == "MT" for c in bundle.contigs])
        genes = bundle.genes
        names = kernels.take(genes["gene_name"], pa.array(gene))
        tx_id = table["transcript_id"]
        self.hgvs_name = single(
            _where(kernels.equal(tx_id, "").to_numpy(zero_copy_only=False), names, tx_id)
        )
        # What a transcript's blocks always say, rendered with the bundle (rendered_text/):
        # before the location fields and after them, each with an intergenic row at the end.
        self.tx_head_rows = bundle.csq_head
        self.tx_tail_rows = bundle.csq_tail
        self.mane = table["mane"].to_numpy(zero_copy_only=False)
        self.canonical = table["canonical"].to_numpy(zero_copy_only=False)
        self.pick_tx = tx.pick
        self._mask_text: dict[int, tuple[str, str]] = {}

    def _starts_with_atg(self, t: np.ndarray) -> np.ndarray:
        """Whether each coding transcript's first three CDS bases read ATG."""
        assert self.seq is not None
        first = []
        for k in range(3):
            keys = self._key_of(t, self.cds_start[t] + k)
            got = self.seq.bases(keys)
            first.append(np.where(self.minus[t], _COMPLEMENT[got], got))
        return (first[0] == ord("A")) & (first[1] == ord("T")) & (first[2] == ord("G"))

    # ----------------------------------------------------------------- positions on a transcript

    def _exon_at(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Index of the last exon of transcript t starting at or before key x (may be one
        before the transcript's first exon: check against exon_offset)."""
        return np.searchsorted(self.exon_key, (t << 32) | (x & LOCAL), side="right") - 1

    def _exon_before(self, t: np.ndarray, x: np.ndarray, i: np.ndarray) -> np.ndarray:
        """``_exon_at(t, x - 1)`` from ``i = _exon_at(t, x)``: one exon back where x is an exon's
        first base (searched again there, in case two exons start at x), else i."""
        at_start = (i >= self.exon_offset[t]) & (self.es[np.maximum(i, 0)] == x)
        got = i.copy()
        rows = np.flatnonzero(at_start)
        if len(rows):
            got[rows] = self._exon_at(t[rows], x[rows] - 1)
        return got

    def _exonic_before(
        self, t: np.ndarray, x: np.ndarray, i: np.ndarray | None = None
    ) -> np.ndarray:
        """Exonic bases of transcript t before key x (genomic order); ``i``: ``_exon_at(t, x)``
        when the caller has it."""
        if i is None:
            i = self._exon_at(t, x)
        ok = i >= self.exon_offset[t]
        ic = np.maximum(i, 0)
        inside = np.clip(x - self.es[ic], 0, self.ee[ic] - self.es[ic])
        return np.where(ok, self.cum[ic] + inside, 0)

    def _key_of(self, t: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Genomic key of transcript-order exonic offset ``offset`` (0-based) of transcript t."""
        g = np.where(self.minus[t], self.tx_len[t] - 1 - offset, offset)
        e = np.searchsorted(self.cum_key, (t << 32) | g, side="right") - 1
        return self.es[e] + (g - self.cum[e])

    def _position_text(self, t: np.ndarray, x: np.ndarray) -> pa.Array:
        """HGVS position of base key x on transcript t (c. numbering on coding transcripts, n.
        otherwise; intronic bases as the nearest exon base +/- the distance)."""
        i = self._exon_at(t, x)
        ic = np.maximum(i, 0)
        exonic = (i >= self.exon_offset[t]) & (x < self.ee[ic])
        minus = self.minus[t]
        # Intronic: the exon edges either side, in genomic order (left exon ic, right ic + 1).
        right = np.minimum(ic + 1, len(self.es) - 1)
        d_left = x - self.ee[ic] + 1
        d_right = self.es[right] - x
        # HGVS: the nearer exon; at the middle of an odd intron, the 5' (upstream) one.
        up_is_left = ~minus
        d_up = np.where(up_is_left, d_left, d_right)
        d_down = np.where(up_is_left, d_right, d_left)
        use_up = d_up <= d_down
        edge_key = np.where(
            up_is_left == use_up, self.ee[ic] - 1, self.es[right]
        )  # the exon base the offset counts from
        base = np.where(exonic, x, edge_key)
        e = np.maximum(self._exon_at(t, base), 0)  # one search for the exon of each base
        g = self.cum[e] + (base - self.es[e])
        o = np.where(minus, self.tx_len[t] - 1 - g, g)
        text = self._offset_text(t, o)
        dist = np.where(use_up, d_up, d_down)
        sign = _where(use_up, "+", "-")
        intronic_text = _join(text, sign, _num(dist))
        return _where(exonic, text, intronic_text)

    def _offset_text(self, t: np.ndarray, o: np.ndarray) -> pa.Array:
        """c./n. number of transcript-order offset o: -N in the 5' UTR, *N past the stop."""
        coding = self.coding[t]
        cs, cl = self.cds_start[t], self.cds_len[t]
        c = o - cs + 1
        five = coding & (c <= 0)
        three = coding & (o >= cs + cl)
        number = np.where(
            coding, np.where(five, cs - o, np.where(three, o - cs - cl + 1, c)), o + 1
        )
        prefix = _where(five, "-", _where(three, "*", ""))
        return _join(prefix, _num(number))

    # ------------------------------------------------------------------------------- calling

    def call(self, alleles: Alleles, pick_gene, zone_allele, zone_gene) -> Called:
        """Consequences of a block's alleles; ``zone_*`` are the (allele, gene) pairs whose gene
        body +/- 5 kb covers the allele (the engine's), ``pick_gene`` each allele's pick gene."""
        n = len(alleles.start)
        pr = self._pairs(alleles, zone_allele, zone_gene)
        self._place(pr)
        self._coding_positions(alleles, pr)
        pr.terms = np.where(pr.terms == 0, 1 << T["sequence_variant"], pr.terms)
        has_pick = pick_gene[pr.allele] >= 0
        pr.pick = has_pick & (self.pick_tx[np.maximum(pick_gene[pr.allele], 0)] == pr.tx)
        self._coding_details(alleles, pr)
        # The allele's most severe term is over every transcript, whichever get a block.
        worst = np.full(n, T["intergenic_variant"], np.int64)
        np.minimum.at(worst, pr.allele, _worst_term(pr.terms))
        if self.transcripts != "all":
            pr = pr.subset(self._chosen(pr))
        hgvsc = self._hgvsc(alleles, pr)
        mask, names, impacts = self._mask_strings(pr.terms)
        csq = self._render(alleles, pr, mask, names, impacts, hgvsc)
        # The picked transcript's pair per allele; alleles without one read the row past the
        # end, and show intergenic without a pick gene, '.' otherwise.
        n_pairs = len(pr.allele)
        pick_rows = np.full(n, n_pairs, np.int64)
        pick_rows[pr.allele[pr.pick]] = np.flatnonzero(pr.pick)
        rows = pa.array(pick_rows)
        none = pick_rows == n_pairs
        gene = pick_gene >= 0

        def picked(values: pa.Array, without: pa.Array) -> pa.Array:
            got = kernels.take(pa.concat_arrays([single(values), _strings([""])]), rows)
            got = _where(kernels.equal(got, "").to_numpy(zero_copy_only=False), ".", got)
            return single(_where(none, without, got))

        return Called(
            csq,
            worst,
            picked(
                kernels.take(_strings(names), pa.array(mask)),
                _where(gene, ".", "intergenic_variant"),
            ),
            picked(kernels.take(_strings(impacts), pa.array(mask)), _where(gene, ".", "MODIFIER")),
            picked(hgvsc, _repeated(".", n)),
            picked(pr.hgvsp, _repeated(".", n)),
        )

    def _pairs(self, alleles: Alleles, zone_allele, zone_gene) -> _Pairs:
        """(allele, transcript) for every transcript of every candidate gene within 5 kb."""
        counts = self.gene_offset[zone_gene + 1] - self.gene_offset[zone_gene]
        allele = np.repeat(zone_allele, counts)
        tx = np.repeat(self.gene_offset[zone_gene], counts) + (
            np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        vs, ve = alleles.start[allele], alleles.end[allele]
        kind = alleles.kind[allele]
        ins = kind == INS
        ts, te = self.t_start[tx], self.t_end[tx]
        inside = np.where(ins, (ts < vs) & (vs < te), (vs < te) & (ve > ts))
        before = np.where(ins, vs <= ts, ve <= ts)  # the allele lies before the transcript
        dist = np.where(inside, 0, np.where(before, ts - np.where(ins, vs, ve) + 1, vs - te + 1))
        keep = inside | (dist <= FLANK)
        pr = _Pairs(
            allele=allele[keep],
            tx=tx[keep],
            vs=vs[keep],
            ve=ve[keep],
            kind=kind[keep],
            ins=ins[keep],
            inside=inside[keep],
            dist=dist[keep],
        )
        pr.minus = self.minus[pr.tx]
        upstream = before[keep] != pr.minus
        pr.terms = np.where(
            pr.inside,
            0,
            np.where(upstream, 1 << T["upstream_gene_variant"], 1 << T["downstream_gene_variant"]),
        ).astype(np.int64)
        return pr

    def _chosen(self, pr: _Pairs) -> np.ndarray:
        """The pairs kept when not every transcript is: per gene (VEP's --per_gene) or per
        allele (--pick), the first in VEP's pick order: the gene's pick transcript, MANE Select,
        canonical, coding, the most severe consequence, the longest."""
        t = pr.tx
        group = pr.allele if self.transcripts == "pick" else (pr.allele << 20) | self.gene[t]
        # One key for the order within a group (lexsort is stable: ties keep the pairs' order):
        # four flags, the term's rank (< 64), and the length from the longest down (< 2^32).
        flags = (
            (~pr.pick).astype(np.int64) << 3
            | (~self.mane[t]).astype(np.int64) << 2
            | (~self.canonical[t]).astype(np.int64) << 1
            | (~self.coding[t]).astype(np.int64)
        )
        rank = (flags << 6 | _worst_term(pr.terms)) << 32 | (0xFFFFFFFF - self.tx_len[t])
        order = np.lexsort((rank, group))
        g = group[order]
        first = np.ones(len(order), bool)
        first[1:] = g[1:] != g[:-1]
        return np.sort(order[first])

    def _mask_strings(self, terms: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
        """Per pair the row of its term mask in two small tables: the '&'-joined term names
        (most severe first) and the impact of each distinct mask."""
        uniq, inv = np.unique(terms, return_inverse=True)
        names, impacts = [], []
        for m in uniq.tolist():
            got = self._mask_text.get(m)
            if got is None:
                bits = [i for i in range(len(TERM_NAMES)) if m >> i & 1]
                got = ("&".join(TERM_NAMES[i] for i in bits), IMPACT_OF[bits[0]])
                self._mask_text[m] = got
            names.append(got[0])
            impacts.append(got[1])
        return inv.astype(np.int64).reshape(-1), names, impacts

    # -------------------------------------------------------------------------------- placing

    def _place(self, pr: _Pairs) -> None:
        """Exons, introns, UTRs and splice sites each pair's allele touches on its transcript."""
        pt, vs, ve, ins, inside = pr.tx, pr.vs, pr.ve, pr.ins, pr.inside
        # First and last base the allele touches; an insertion's flanking bases.
        a = np.where(ins, vs - 1, vs)
        z = np.where(ins, vs, ve - 1)
        # Two searches serve every lookup below: the exons at vs and at the allele's end.
        end = np.where(ins, vs, ve)
        i_vs, i_end = self._exon_at(pt, vs), self._exon_at(pt, end)
        ia = np.where(ins, self._exon_before(pt, vs, i_vs), i_vs)
        iz = np.where(ins, i_vs, self._exon_before(pt, end, i_end))
        off0, off1 = self.exon_offset[pt], self.exon_offset[pt + 1]
        ia_c, iz_c = np.clip(ia, off0, off1 - 1), np.clip(iz, off0, off1 - 1)
        ex_a = (ia >= off0) & (a < self.ee[ia_c])
        ex_z = (iz >= off0) & (z < self.ee[iz_c])
        f_a = self._exonic_before(pt, vs, i_vs)
        f_z = self._exonic_before(pt, end, i_end)
        exonic_bases = np.where(ins, 0, f_z - f_a)
        span = np.where(ins, 0, ve - vs)
        # An insertion is exonic between two bases of one exon, intronic between two of one
        # intron; at an exon edge it is both (VEP: splice region, intron).
        any_exonic = np.where(ins, ex_a | ex_z, exonic_bases > 0) & inside
        any_intronic = np.where(ins, ~ex_a | ~ex_z, exonic_bases < span) & inside
        terms = pr.terms
        coding_tx = self.coding[pt]
        terms |= np.where(any_intronic, 1 << T["intron_variant"], 0)
        unknown = inside & self.cds_unknown[pt]
        terms |= np.where(unknown & any_exonic, 1 << T["coding_transcript_variant"], 0)
        nc = inside & ~coding_tx & ~unknown
        terms |= np.where(nc & any_exonic, 1 << T["non_coding_transcript_exon_variant"], 0)
        terms |= np.where(nc & ~any_exonic, 1 << T["non_coding_transcript_variant"], 0)
        terms |= np.where(inside & self.nmd[pt], 1 << T["NMD_transcript_variant"], 0)
        terms |= self._splice_terms(pt, vs, ve, ins, ia_c, iz_c, off0, off1) * inside
        # UTRs of coding transcripts: exonic bases outside the CDS, 5' or 3' by strand.
        lo, hi = self.lo[pt], self.hi[pt]
        both = ins & ex_a & ex_z
        # Exonic bases before min(ve, lo) and max(vs, hi): f_z or f_a, or the transcript's own.
        before_lo = np.where(ve < lo, f_z, self.before_lo[pt])
        before_hi = np.where(vs > hi, f_a, self.before_hi[pt])
        left = np.where(ins, both & (vs <= lo), before_lo > f_a)
        right = np.where(ins, both & (vs >= hi), f_z > before_hi)
        left &= coding_tx & inside & (vs < lo)
        right &= coding_tx & inside & (ve > hi)
        minus = pr.minus
        terms |= np.where(np.where(minus, right, left), 1 << T["5_prime_UTR_variant"], 0)
        terms |= np.where(np.where(minus, left, right), 1 << T["3_prime_UTR_variant"], 0)
        pr.terms = terms
        # Exon and intron numbers (transcript order) of the first and last ones touched.
        n_ex = off1 - off0
        first_ex = np.where(ex_a, ia_c, ia_c + 1) - off0
        last_ex = iz_c - off0
        intron_first = ia_c - off0  # intron k follows genomic exon k
        intron_last = np.where(ex_z, iz_c - 1, iz_c) - off0
        pr.exon_lo = np.where(minus, n_ex - last_ex, first_ex + 1)
        pr.exon_hi = np.where(minus, n_ex - first_ex, last_ex + 1)
        pr.intron_lo = np.where(minus, n_ex - 1 - intron_last, intron_first + 1)
        pr.intron_hi = np.where(minus, n_ex - 1 - intron_first, intron_last + 1)
        pr.n_exons = n_ex
        pr.any_exonic, pr.any_intronic = any_exonic, any_intronic
        pr.fa, pr.fz, pr.ex_a, pr.ex_z = f_a, f_z, ex_a, ex_z

    def _splice_terms(self, pt, vs, ve, ins, ia, iz, off0, off1) -> np.ndarray:
        """Splice donor/acceptor sites and regions of the introns next to the allele's ends.

        Every splice term lies within 3 bases outside an intron's ends and 17 inside, so only
        the pairs touching such a window (a few in a hundred) are looked at closely."""
        out = np.zeros(len(pt), np.int64)
        near = np.zeros(len(pt), bool)
        lo = np.where(ins, vs - 1, vs)  # an insertion touches its two flanking bases
        hi = np.where(ins, vs + 1, ve)
        for k in (ia - 1, ia, iz - 1, iz):
            kc = np.clip(k, 0, len(self.es) - 2)
            i0, i1 = self.ee[kc], self.es[kc + 1]
            touch = ((lo < i0 + 17) & (hi > i0 - 3)) | ((lo < i1 + 3) & (hi > i1 - 17))
            near |= (k >= off0) & (k + 1 < off1) & (i1 > i0) & touch
        rows = np.flatnonzero(near)
        if len(rows):
            out[rows] = self._splice_terms_of(
                pt[rows], vs[rows], ve[rows], ins[rows], ia[rows], iz[rows], off0[rows], off1[rows]
            )
        return out

    def _splice_terms_of(self, pt, vs, ve, ins, ia, iz, off0, off1) -> np.ndarray:
        minus = self.minus[pt]
        out = np.zeros(len(pt), np.int64)
        # Candidate introns: before and after the exon (or intron) at each end of the span.
        for k in (ia - 1, ia, iz - 1, iz):
            valid = (k >= off0) & (k + 1 < off1)
            kc = np.clip(k, 0, len(self.es) - 2)
            i0, i1 = self.ee[kc], self.es[kc + 1]  # the intron [i0, i1), genomic order
            valid &= i1 > i0

            def hit(r0, r1, valid=valid):
                r0, r1 = np.asarray(r0), np.asarray(r1)
                return valid & np.where(ins, (r0 < vs) & (vs < r1), (vs < r1) & (ve > r0))

            # In transcript order: the donor is the intron's 5' end, the acceptor its 3' end.
            d0 = np.where(minus, i1 - 2, i0)  # donor's two bases
            a0 = np.where(minus, i0, i1 - 2)  # acceptor's two bases
            fifth = np.where(minus, i1 - 5, i0 + 4)
            donor_region = np.where(minus, i1 - 6, i0 + 2), np.where(minus, i1 - 2, i0 + 6)
            ppt = np.where(minus, i0 + 2, i1 - 17), np.where(minus, i0 + 17, i1 - 2)
            donor = hit(d0, d0 + 2)
            acceptor = hit(a0, a0 + 2)
            is_fifth = hit(fifth, fifth + 1)
            region5 = hit(*donor_region) & ~is_fifth
            region = (
                hit(i0 + 2, np.minimum(i0 + 8, i1))
                | hit(np.maximum(i1 - 8, i0), i1 - 2)
                | hit(i0 - 3, i0)
                | hit(i1, i1 + 3)
                | (ins & valid & ((vs == i0) | (vs == i1)))
            )
            essential = donor | acceptor
            out |= np.where(donor, 1 << T["splice_donor_variant"], 0)
            out |= np.where(acceptor, 1 << T["splice_acceptor_variant"], 0)
            out |= np.where(is_fifth & ~essential, 1 << T["splice_donor_5th_base_variant"], 0)
            out |= np.where(region5 & ~essential, 1 << T["splice_donor_region_variant"], 0)
            out |= np.where(
                hit(*ppt) & ~essential, 1 << T["splice_polypyrimidine_tract_variant"], 0
            )
            out |= np.where(
                region & ~essential & ~is_fifth & ~region5, 1 << T["splice_region_variant"], 0
            )
        return out

    # ----------------------------------------------------------------------- coding and HGVS

    def _coding_positions(self, alleles: Alleles, pr: _Pairs) -> None:
        """cDNA, CDS and protein positions, and the coding terms the alleles decide alone."""
        pt, ins, kind, minus = pr.tx, pr.ins, pr.kind, pr.minus
        L = self.tx_len[pt]
        fa, fz = pr.fa, pr.fz
        # Transcript-order 1-based positions of the exonic part's 5' and 3' ends, and whether
        # each end of the allele lies outside the exons ('?' in VEP's positions).
        pr.p5 = np.where(ins, np.where(minus, L - fa, fa), np.where(minus, L - fz + 1, fa + 1))
        pr.p3 = np.where(ins, pr.p5 + 1, np.where(minus, L - fa, fz))
        pr.q5 = np.where(ins, False, np.where(minus, ~pr.ex_z, ~pr.ex_a))
        pr.q3 = np.where(ins, False, np.where(minus, ~pr.ex_a, ~pr.ex_z))
        pr.exonic = pr.any_exonic & np.where(ins, pr.ex_a & pr.ex_z, True)
        cs, cl = self.cds_start[pt], self.cds_len[pt]
        c5, c3 = pr.p5 - cs, pr.p3 - cs  # 1-based CDS positions
        in_cds = (
            self.coding[pt]
            & pr.exonic
            & np.where(ins, (c5 >= 1) & (c3 <= cl), (c3 >= 1) & (c5 <= cl))
        )
        pr.c5, pr.c3, pr.in_cds = c5, c3, in_cds
        pr.qc5, pr.qc3 = pr.q5 | (c5 < 1), pr.q3 | (c3 > cl)
        span = np.where(ins, 0, pr.ve - pr.vs)
        whole = in_cds & ~pr.qc5 & ~pr.qc3 & np.where(ins, True, fz - fa == span)
        partial = in_cds & ~whole
        terms = pr.terms
        terms |= np.where(partial, 1 << T["coding_sequence_variant"], 0)
        complete = self.start_known[pt]
        end_known = self.end_known[pt]
        mt = self.mt[np.maximum(alleles.contig[pr.allele], 0)]
        diff = alleles.alt_len[pr.allele] - alleles.ref_len[pr.allele]
        indel = whole & ((kind == DEL) | (kind == INS) | ((kind == MNV) & (diff != 0)))
        frameshift = indel & (diff % 3 != 0)
        terms |= np.where(frameshift, 1 << T["frameshift_variant"], 0)
        terms |= np.where(indel & ~frameshift & (diff > 0), 1 << T["inframe_insertion"], 0)
        terms |= np.where(indel & ~frameshift & (diff < 0), 1 << T["inframe_deletion"], 0)
        hits_start = (indel | partial) & complete & ~mt & (c5 <= 3) & (c3 >= 1) & ~ins
        terms |= np.where(hits_start, 1 << T["start_lost"], 0)
        terms |= np.where(whole & (kind == OTHER), 1 << T["coding_sequence_variant"], 0)
        substitution = whole & ((kind == SNV) | ((kind == MNV) & (diff == 0)))
        # SNVs the change decides whatever the codon's other bases are; the rest for now
        # coding_sequence_variant, until the sequence (if any) tells more.
        for i in np.flatnonzero(substitution).tolist():
            term = None
            k = (int(c5[i]) - 1) // 3
            if complete[i] and 3 * k + 3 > cl[i]:
                # The last codon of a CDS that is no whole number of codons.
                terms[i] |= 1 << T["incomplete_terminal_codon_variant"]
            elif kind[i] == SNV and complete[i]:
                a = int(pr.allele[i])
                pos = (int(c5[i]) - 1) % 3
                last = k == int(cl[i]) // 3 - 1 and end_known[i]
                where = FIRST if k == 0 else LAST if last else MIDDLE
                r, s = alleles.ref[a], alleles.alt[a]
                if minus[i]:
                    r, s = reverse_complement(r), reverse_complement(s)
                if not (mt[i] and where == FIRST):
                    term = decided_without_codon(bool(mt[i]), where, pos, r, s)
            terms[i] |= 1 << T[term or "coding_sequence_variant"]
        pr.terms = terms
        pr.substitution, pr.indel, pr.complete, pr.mt = substitution, indel, complete, mt
        pr.end_known = end_known

    def _coding_details(self, alleles: Alleles, pr: _Pairs) -> None:
        """With the sequence: codons, amino acids, HGVSp and the terms they decide."""
        n = len(pr.tx)
        # The pairs given a codon, amino acids or HGVSp, and those: few of all pairs.
        rows: list[int] = []
        amino: list[str] = []
        codons: list[str] = []
        hgvsp: list[str] = []

        def keep(i: int, got: tuple) -> None:
            rows.append(i)
            amino.append(got[1])
            codons.append(got[2])
            hgvsp.append(got[3])

        if self.seq is not None:
            coarse = ~((1 << T["coding_sequence_variant"]) | _CODON_TERMS)
            held = self.held[alleles.contig[pr.allele]] & alleles.ref_ok[pr.allele]
            for i in np.flatnonzero(pr.substitution & pr.complete & held).tolist():
                a = int(pr.allele[i])
                if not alleles.ref_ok[a]:
                    continue
                got = self._substitution(alleles, a, int(pr.tx[i]), int(pr.c5[i]), bool(pr.mt[i]))
                if got is None:
                    continue
                keep(i, got)
                pr.terms[i] &= coarse
                for name in got[0]:
                    pr.terms[i] |= 1 << T[name]
            for i in np.flatnonzero(pr.indel & pr.complete & held).tolist():
                a = int(pr.allele[i])
                if not alleles.ref_ok[a]:
                    continue
                got = self._indel_protein(alleles, a, int(pr.tx[i]), int(pr.c5[i]), bool(pr.mt[i]))
                if got is None:
                    continue
                keep(i, got)
                for name in got[0]:
                    pr.terms[i] |= 1 << T[name]
        pr.amino, pr.codons = _sparse(n, rows, amino), _sparse(n, rows, codons)
        named = [i for i, h in zip(rows, hgvsp, strict=True) if h]
        texts = [h for h in hgvsp if h]
        if named:
            names = kernels.take(self.hgvs_name, pa.array(pr.tx[named]))
            texts = single(_join(names, ":", _strings(texts))).to_pylist()
        pr.hgvsp = _sparse(n, named, texts)

    def _hgvsc(self, alleles: Alleles, pr: _Pairs) -> pa.Array:
        """HGVSc per pair inside its transcript; '' outside it, and for indels without the
        sequence (their 3' shifted place needs it)."""
        pt, vs, ve, ins, kind, minus = pr.tx, pr.vs, pr.ve, pr.ins, pr.kind, pr.minus
        inside = pr.any_exonic | pr.any_intronic
        first = np.where(minus, np.where(ins, vs, ve - 1), np.where(ins, vs - 1, vs))
        last = np.where(minus, np.where(ins, vs - 1, vs), np.where(ins, vs, ve - 1))
        shifted = np.zeros(len(pt), bool)
        text = np.full(len(pt), "", dtype=object)
        if self.seq is not None:
            first, last, text, shifted = self._shift_indels(
                alleles, pr.allele, pt, vs, ve, kind, ins, minus, first, last, inside
            )
        shown = inside & ((kind == SNV) | (kind == MNV) | shifted) & ~self.cds_unknown[pt]
        rows = np.flatnonzero(shown)
        if len(rows):
            t = pt[rows]
            p_first = self._position_text(t, first[rows])
            p_last = self._position_text(t, last[rows])
            a = pr.allele[rows]
            m = minus[rows]
            k = kind[rows]
            ref_t = _oriented(alleles.ref, a, m, k == SNV)
            alt_t = _oriented(alleles.alt, a, m, k == SNV)
            one = first[rows] == last[rows]
            span = _where(one, p_first, _join(p_first, "_", p_last))
            body = _where(
                k == SNV,
                _join(p_first, ref_t, ">", alt_t),
                _where(k == MNV, _join(span, "delins", alt_t), ""),
            )
            body = _where(shifted[rows], _join(span, _strings(text[rows].tolist())), body)
            prefix = _join(
                kernels.take(self.hgvs_name, pa.array(t)), _where(self.coding[t], ":c.", ":n.")
            )
            got = single(_join(prefix, body))
        else:
            got = _strings([])
        # Rows without an HGVSc read the padding row.
        where = np.full(len(pt), len(rows), np.int64)
        where[rows] = np.arange(len(rows))
        return single(kernels.take(pa.concat_arrays([got, _strings([""])]), pa.array(where)))

    def _shift_indels(self, alleles, pa_, pt, vs, ve, kind, ins, minus, first, last, inside):
        """3'-shift (transcript direction) deletions and insertions on the sequence, as HGVS
        does, and name duplications; per allele and strand, so each is worked out once."""
        n = len(pt)
        first, last = first.copy(), last.copy()
        text = np.full(n, "", dtype=object)
        shifted = np.zeros(n, bool)
        done: dict[tuple[int, bool], tuple[int, int, str] | None] = {}
        held = self.held[alleles.contig[pa_]]
        todo = np.flatnonzero(inside & held & ((kind == DEL) | (kind == INS)))
        for i in todo.tolist():
            a = int(pa_[i])
            m = bool(minus[i])
            if (a, m) not in done:
                done[(a, m)] = self._shift(alleles, a, m) if alleles.ref_ok[a] else None
            got = done[(a, m)]
            if got is None:
                continue
            f, z, t = got
            t_s, t_e = self.t_start[pt[i]], self.t_end[pt[i]]
            if not (t_s <= min(f, z) and max(f, z) < t_e):
                continue  # shifted out of the transcript: leave it unnamed
            first[i], last[i], text[i] = f, z, t
            shifted[i] = True
        return first, last, text, shifted

    def _shift(self, alleles: Alleles, a: int, minus: bool) -> tuple[int, int, str] | None:
        """(first, last) base keys in transcript order and the HGVS suffix of an indel after
        its 3' shift: 'del', 'dup' or 'ins' + bases; None where the sequence runs out."""
        window = 400
        seq = self.seq
        assert seq is not None
        s, e = int(alleles.start[a]), int(alleles.end[a])
        c = s >> 32
        lo = max((s & 0xFFFFFFFF) - window, 0)
        bases = seq.fetch(int(c), lo, (e & 0xFFFFFFFF) + window).decode("ascii")
        base = (c << 32) | lo
        i, j = s - base, e - base  # the deleted bases [i, j), or the insertion point i == j
        if "N" in bases[max(i - 1, 0) : j + 1]:
            return None  # the sequence does not hold the place: no shift, no name
        if alleles.kind[a] == DEL:
            if not minus:
                while j < len(bases) and bases[j] == bases[i] and bases[j] != "N":
                    i, j = i + 1, j + 1
                if j >= len(bases):
                    return None
            else:
                while i > 0 and bases[i - 1] == bases[j - 1] and bases[i - 1] != "N":
                    i, j = i - 1, j - 1
                if i == 0:
                    return None
            f, z = (j - 1, i) if minus else (i, j - 1)
            return base + f, base + z, "del"
        ins = alleles.alt[a]
        p = i
        if not minus:
            while p < len(bases) and bases[p] == ins[0] and bases[p] != "N":
                ins, p = ins[1:] + ins[0], p + 1
            if p >= len(bases):
                return None
            k = len(ins)
            if bases[p - k : p] == ins:
                return base + p - k, base + p - 1, "dup"
            return base + p - 1, base + p, "ins" + ins
        while p > 0 and bases[p - 1] == ins[-1] and bases[p - 1] != "N":
            ins, p = ins[-1] + ins[:-1], p - 1
        if p == 0:
            return None
        k = len(ins)
        if bases[p : p + k] == ins:
            return base + p + k - 1, base + p, "dup"
        return base + p, base + p - 1, "ins" + reverse_complement(ins)

    def _cds_bases(self, t: int, start: int, count: int) -> str:
        """``count`` bases of transcript t from CDS offset ``start`` (0-based), transcript
        strand, running on into the 3' UTR; N past the transcript's end."""
        assert self.seq is not None
        o = int(self.cds_start[t]) + start + np.arange(count, dtype=np.int64)
        ok = o < self.tx_len[t]
        keys = self._key_of(np.full(count, t, np.int64), np.where(ok, o, 0))
        got = np.where(ok, self.seq.bases(keys), ord("N")).astype(np.uint8)
        if self.minus[t]:
            got = _COMPLEMENT[got]
        return got.tobytes().decode("ascii")

    def _substitution(self, alleles: Alleles, a: int, t: int, c5: int, mt: bool):
        """Terms, Amino_acids, Codons and HGVSp of an SNV or MNV inside one CDS, from codons."""
        r, s = alleles.ref[a], alleles.alt[a]
        if self.minus[t]:
            r, s = reverse_complement(r), reverse_complement(s)
        k0 = (c5 - 1) // 3
        k1 = (c5 - 1 + len(r) - 1) // 3
        if 3 * k1 + 3 > self.cds_len[t]:
            return None  # an incomplete last codon: incomplete_terminal_codon_variant stands
        ref = self._cds_bases(t, 3 * k0, 3 * (k1 - k0 + 1))
        at = c5 - 1 - 3 * k0
        if "N" in ref or ref[at : at + len(r)] != r:
            return None
        alt = ref[:at] + s + ref[at + len(s) :]
        code = code_for("MT" if mt else "")
        rp, ap = translate(ref, code), translate(alt, code)
        changed = [i for i in range(len(ref)) if ref[i] != alt[i]]
        codons = "/".join(
            "".join(ch.upper() if i in changed else ch.lower() for i, ch in enumerate(x))
            for x in (ref, alt)
        )
        number = k0 + 1
        terms: list[str] = []
        last_codon = int(self.cds_len[t]) // 3 - 1
        if k0 == 0 and rp[0] == "M" and ap[0] != "M":
            terms.append("start_lost")
            return terms, f"{rp}/{ap}", codons, "p.Met1?"
        if k0 == 0 and rp[0] == "M" and rp == ap:
            return ["start_retained_variant"], rp, codons, "p.Met1="
        if "*" in rp and "*" not in ap:
            tail = self._cds_bases(t, 3 * (k1 + 1), 3 * 400)
            ext = translate(tail, code)
            stop = ext.find("*")
            where = rp.index("*")
            hgvsp = (
                f"p.Ter{number + where}{THREE_LETTER[ap[where]]}ext"
                f"Ter{stop + 1 if stop >= 0 else '?'}"
            )
            return ["stop_lost"], f"{rp}/{ap}", codons, hgvsp
        if rp == ap:
            name = "stop_retained_variant" if "*" in rp else "synonymous_variant"
            return [name], rp, codons, f"p.{_three(rp[0])}{number}%3D"
        if "*" in ap and "*" not in rp:
            where = ap.index("*")
            lead = rp[where]
            return ["stop_gained"], f"{rp}/{ap}", codons, f"p.{_three(lead)}{number + where}Ter"
        del last_codon
        diff = [i for i in range(len(rp)) if rp[i] != ap[i]]
        if len(diff) == 1:
            i = diff[0]
            hgvsp = f"p.{_three(rp[i])}{number + i}{_three(ap[i])}"
        else:
            i, j = diff[0], diff[-1]
            alts = "".join(_three(x) for x in ap[i : j + 1])
            hgvsp = f"p.{_three(rp[i])}{number + i}_{_three(rp[j])}{number + j}delins{alts}"
        return ["missense_variant"], f"{rp}/{ap}", codons, hgvsp

    def _indel_protein(self, alleles: Alleles, a: int, t: int, c5: int, mt: bool):
        """Extra terms, Amino_acids, Codons and HGVSp of an indel inside one CDS."""
        r, s = alleles.ref[a], alleles.alt[a]
        minus = bool(self.minus[t])
        if minus:
            r, s = reverse_complement(r), reverse_complement(s)
        k0 = (c5 - 1) // 3
        # Deletions start at c5; an insertion goes after c5 (its 5' flanking base).
        at = c5 - 1 - 3 * k0 + (1 if alleles.kind[a] == INS else 0)
        if alleles.kind[a] == INS and minus:
            at = c5 - 1 - 3 * k0 + 1
        ref = self._cds_bases(t, 3 * k0, 3 * 1500)
        if ref[at : at + len(r)] != r or "N" in ref[: at + len(r) + 3]:
            return None
        alt = ref[:at] + s + ref[at + len(r) :]
        code = code_for("MT" if mt else "")
        rp, ap = translate(ref, code), translate(alt, code)
        rstop, astop = rp.find("*"), ap.find("*")
        if rstop >= 0:
            rp = rp[: rstop + 1]
        if astop >= 0:
            ap = ap[: astop + 1]
        number = k0 + 1
        extra: list[str] = []
        if (len(s) - len(r)) % 3:
            i = next((i for i in range(min(len(rp), len(ap))) if rp[i] != ap[i]), None)
            if i is None:
                return extra, "", "", ""
            if ap[i] == "*":
                return ["stop_gained"], "", "", f"p.{_three(rp[i])}{number + i}Ter"
            tail = ap[i:].find("*")
            ter = str(tail + 1) if tail >= 0 else "?"
            return extra, "", "", f"p.{_three(rp[i])}{number + i}{_three(ap[i])}fsTer{ter}"
        # In frame: strip the shared start (3'-most description), then the shared end.
        p = 0
        while p < len(rp) and p < len(ap) and rp[p] == ap[p]:
            p += 1
        q = 0
        while q < len(rp) - p and q < len(ap) - p and rp[-1 - q] == ap[-1 - q]:
            q += 1
        gone, new = rp[p : len(rp) - q], ap[p : len(ap) - q]
        if "*" in new and "*" not in gone:
            extra.append("stop_gained")
        if "*" in gone and "*" not in new:
            extra.append("stop_lost")
        if not gone and not new:
            return extra, "", "", ""
        if not new:
            span = _aa_span(rp, p, p + len(gone) - 1, number)
            return extra, "", "", f"p.{span}del"
        if not gone:
            k = len(new)
            if p >= k and rp[p - k : p] == new:
                return extra, "", "", f"p.{_aa_span(rp, p - k, p - 1, number)}dup"
            if p == 0 or p >= len(rp):
                return extra, "", "", ""
            left, right = _aa_span(rp, p - 1, p - 1, number), _aa_span(rp, p, p, number)
            return extra, "", "", f"p.{left}_{right}ins{''.join(_three(x) for x in new)}"
        span = _aa_span(rp, p, p + len(gone) - 1, number)
        return extra, "", "", f"p.{span}delins{''.join(_three(x) for x in new)}"

    # ------------------------------------------------------------------------------ rendering

    def _render(self, alleles: Alleles, pr: _Pairs, mask, names, impacts, hgvsc) -> pa.Array:
        """';GAS_CSQ=' and every block of each record, in one C pass (``join_rows``): a row per
        pair, and one intergenic row for each allele with no transcript within 5 kb."""
        n = len(alleles.start)
        counts = np.bincount(pr.allele, minlength=n)
        per = np.maximum(counts, 1)
        R = int(per.sum())
        row_allele = np.repeat(np.arange(n), per)
        pair = np.full(R, -1, np.int64)
        pair[np.repeat(counts > 0, per)] = np.arange(len(pr.allele))
        real = pair >= 0
        rp = np.where(real, pair, len(pr.allele))  # pair arrays get one padding row

        def at(values, pad=0) -> np.ndarray:
            """A pair array's value on each row (``pad`` on intergenic rows)."""
            values = np.asarray(values)
            return np.append(values, np.array([pad], values.dtype))[rp]

        rec = alleles.rec[row_allele]
        first = np.ones(R, bool)
        first[1:] = rec[1:] != rec[:-1]
        ends = np.append(np.flatnonzero(first[1:]) + 1, R)
        parts: list[tuple] = []

        def text(values, rows) -> None:
            parts.append(_part(values, np.ascontiguousarray(rows, np.int64)))

        def per_pair(values) -> None:
            text(_PIPE, np.zeros(R, np.int64))
            text(pa.concat_arrays([single(values), _strings([""])]), rp)

        def number(prefix: bytes, values, shown) -> None:
            v = at(values).astype(np.int64)
            parts.append(("int", prefix, v, (real & at(shown, False)).astype(np.uint8)))

        def flag(table: pa.Array, on) -> None:
            text(table, at(on, False))

        def position(a, b, qa, qb, shown) -> None:
            one = (a == b) & ~qa & ~qb
            text(_PIPE, np.zeros(R, np.int64))
            number(b"", a, shown & ~qa)
            flag(_QUESTION, shown & qa)
            number(b"-", b, shown & ~one & ~qb)
            flag(_DASH_QUESTION, shown & ~one & qb)

        text(_OPENING, ~first)
        text(alleles.vep_allele, row_allele)
        mask_text = [f"|{t}|{i}|" for t, i in zip(names, impacts, strict=True)]
        intergenic = len(mask_text)
        text(
            _strings([*mask_text, "|intergenic_variant|MODIFIER|"]),
            at(mask, intergenic),
        )
        n_tx = len(self.tx_len)
        text(self.tx_head_rows, at(pr.tx, n_tx))
        for lo, hi, count, shown in (
            (pr.exon_lo, pr.exon_hi, pr.n_exons, pr.any_exonic),
            (pr.intron_lo, pr.intron_hi, pr.n_exons - 1, pr.any_intronic),
        ):
            text(_PIPE, np.zeros(R, np.int64))
            number(b"", lo, shown)
            number(b"-", hi, shown & (lo != hi))
            number(b"/", count, shown)
        per_pair(hgvsc)
        per_pair(pr.hgvsp)
        cl = self.cds_len[pr.tx]
        c5, c3 = np.maximum(pr.c5, 1), np.minimum(pr.c3, cl)
        position(pr.p5, pr.p3, pr.q5, pr.q3, pr.exonic)
        position(c5, c3, pr.qc5, pr.qc3, pr.in_cds)
        pr5 = (c5 - 1) // 3 + 1
        pr3 = np.where(pr.ins, (pr.c3 - 1) // 3 + 1, (c3 - 1) // 3 + 1)
        position(pr5, pr3, pr.qc5, pr.qc3, pr.in_cds)
        per_pair(pr.amino)
        per_pair(pr.codons)
        text(_PIPE, np.zeros(R, np.int64))
        number(b"", pr.dist, ~pr.inside)
        text(self.tx_tail_rows, at(pr.tx, n_tx))
        flag(_PICK, pr.pick)
        data, offsets = join_rows(np.ascontiguousarray(ends, np.int64), parts)
        return pa.Array.from_buffers(
            pa.binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )


def _none() -> np.ndarray:
    return np.zeros(0, np.int64)


@dataclass
class _Pairs:
    """One row per (allele, transcript) pair; each step of ``call`` fills in what it works out."""

    allele: np.ndarray = field(default_factory=_none)
    tx: np.ndarray = field(default_factory=_none)
    vs: np.ndarray = field(default_factory=_none)
    ve: np.ndarray = field(default_factory=_none)
    kind: np.ndarray = field(default_factory=_none)
    ins: np.ndarray = field(default_factory=_none)
    inside: np.ndarray = field(default_factory=_none)
    dist: np.ndarray = field(default_factory=_none)
    minus: np.ndarray = field(default_factory=_none)
    terms: np.ndarray = field(default_factory=_none)
    pick: np.ndarray = field(default_factory=_none)
    exon_lo: np.ndarray = field(default_factory=_none)
    exon_hi: np.ndarray = field(default_factory=_none)
    intron_lo: np.ndarray = field(default_factory=_none)
    intron_hi: np.ndarray = field(default_factory=_none)
    n_exons: np.ndarray = field(default_factory=_none)
    any_exonic: np.ndarray = field(default_factory=_none)
    any_intronic: np.ndarray = field(default_factory=_none)
    fa: np.ndarray = field(default_factory=_none)
    fz: np.ndarray = field(default_factory=_none)
    ex_a: np.ndarray = field(default_factory=_none)
    ex_z: np.ndarray = field(default_factory=_none)
    p5: np.ndarray = field(default_factory=_none)
    p3: np.ndarray = field(default_factory=_none)
    q5: np.ndarray = field(default_factory=_none)
    q3: np.ndarray = field(default_factory=_none)
    exonic: np.ndarray = field(default_factory=_none)
    c5: np.ndarray = field(default_factory=_none)
    c3: np.ndarray = field(default_factory=_none)
    in_cds: np.ndarray = field(default_factory=_none)
    qc5: np.ndarray = field(default_factory=_none)
    qc3: np.ndarray = field(default_factory=_none)
    substitution: np.ndarray = field(default_factory=_none)
    indel: np.ndarray = field(default_factory=_none)
    complete: np.ndarray = field(default_factory=_none)
    mt: np.ndarray = field(default_factory=_none)
    end_known: np.ndarray = field(default_factory=_none)
    hgvsp: pa.Array | None = None  # set by _coding_details, with amino and codons
    amino: pa.Array | None = None
    codons: pa.Array | None = None

    def subset(self, rows: np.ndarray) -> _Pairs:
        """The chosen pairs (before the per-pair text is made)."""
        chosen: dict[str, np.ndarray | pa.Array] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and value.size:
                chosen[f.name] = value[rows]
            elif isinstance(value, pa.Array):
                chosen[f.name] = kernels.take(value, pa.array(rows))
        return replace(self, **chosen)


_PIPE = pa.array(["|"], pa.binary())
_QUESTION = pa.array(["", "?"], pa.binary())
_DASH_QUESTION = pa.array(["", "-?"], pa.binary())
_OPENING = pa.array([";GAS_CSQ=", ","], pa.binary())
_PICK = pa.array(["|", "|1"], pa.binary())


def _part(values: pa.Array, rows: np.ndarray) -> tuple:
    """A join_rows text part: the rows of a binary or string array picked per row."""
    values = single(values)
    validity, offsets, data = values.buffers()[:3]
    off = np.frombuffer(offsets, np.int32)[values.offset : values.offset + len(values) + 1]
    return ("text", off, b"" if data is None else data, validity, values.offset, rows)


def _clean(values) -> pa.Array:
    """Text safe inside a CSQ field: no ',', ';', '=', '|' or spaces."""
    v = kernels.fill_null(single(values), "")
    return kernels.replace_substring_regex(v, r"[,;=| ]", "_")


def single(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def transcript_text(bundle: Bundle) -> tuple[pa.Array, pa.Array]:
    """Per transcript the GAS_CSQ fields that never change: 'SYMBOL|Gene|Feature_type|Feature|
    BIOTYPE' and '|STRAND|CANONICAL|MANE|FLAGS', each with one more row of empty fields (an
    intergenic block's). The bundle renders them once (rendered_text/)."""
    tx = bundle.transcripts
    table = tx.table
    gene = pa.array(table["gene"].to_numpy().astype(np.int64))
    names = kernels.take(bundle.genes["gene_name"], gene)
    ids = kernels.take(bundle.genes["gene_id"], gene)
    flag_text = np.array(["", "cds_start_NF", "cds_end_NF", "cds_start_NF&cds_end_NF"], object)
    start_nf = table["cds_start_nf"].to_numpy(zero_copy_only=False)
    end_nf = table["cds_end_nf"].to_numpy(zero_copy_only=False)
    minus = bundle.minus[table["gene"].to_numpy()]
    head = single(
        _join(
            _clean(names),
            _clean(ids),
            "Transcript",
            _clean(bundle.feature_ids),
            _clean(table["biotype"]),
            sep="|",
        )
    )
    tail = single(
        _join(
            _where(minus, "-1", "1"),
            _where(table["canonical"].to_numpy(zero_copy_only=False), "YES", ""),
            _where(table["mane"].to_numpy(zero_copy_only=False), "MANE_Select", ""),
            _strings(flag_text[start_nf.astype(np.int64) + 2 * end_nf.astype(np.int64)].tolist()),
            sep="|",
        )
    )
    head = pa.concat_arrays([single(kernels.cast(head, pa.string())), _strings(["||||"])])
    tail = single(_join("|", tail))  # the '|' after DISTANCE
    tail = pa.concat_arrays([single(kernels.cast(tail, pa.string())), _strings(["||||"])])
    return head, tail


def _oriented(bases: Bases, allele: np.ndarray, minus: np.ndarray, single_base: np.ndarray):
    """Alleles' bases on the transcript's strand: one-base ones straight from the block's bytes
    (complemented on minus), the rest as Python strings."""
    code = bases.data[np.minimum(bases.start[allele], len(bases.data) - 1)]
    code = np.where(minus, _COMPLEMENT[code], code).astype(np.uint8)
    n = len(allele)
    one = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(np.arange(n + 1, dtype=np.int32)), pa.py_buffer(code)]
    )
    rest = np.flatnonzero(~single_base)
    if not len(rest):
        return one
    texts = [
        reverse_complement(bases[x]) if m else bases[x]
        for x, m in zip(allele[rest].tolist(), minus[rest].tolist(), strict=True)
    ]
    where = np.arange(n)
    where[rest] = n + np.arange(len(rest))
    return kernels.take(pa.concat_arrays([one, _strings(texts)]), pa.array(where))


def _three(aa: str) -> str:
    return THREE_LETTER.get(aa, "Xaa")


def _aa_span(peptide: str, i: int, j: int, number: int) -> str:
    first = f"{_three(peptide[i])}{number + i}"
    return first if i == j else f"{first}_{_three(peptide[j])}{number + j}"


def _worst_term(terms: np.ndarray) -> np.ndarray:
    """Index (in TERMS) of the most severe term of each mask: its lowest set bit."""
    low = terms & -terms
    return np.log2(low.astype(np.float64)).astype(np.int64)


# The one table of terms is ordered by severity, so a term's bit is also its rank order.
assert all(TERMS[i].rank < TERMS[i + 1].rank for i in range(len(TERMS) - 1))
