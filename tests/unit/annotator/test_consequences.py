"""Consequences on a genome of the tests' own making (tests/unit/annotator/genome.py): the codon
table on both strands, codons split across exons, incomplete CDSs, start and stop codons, the
mitochondrial code, indels at exon edges and multi-allelic records, with and without the
reference sequence. Each expectation is worked out here from the genome itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from annotator import annotate_file
from annotator.codons import MITOCHONDRIAL, STANDARD, THREE_LETTER, reverse_complement
from annotator.consequences import CSQ_FORMAT
from annotator.sequence import add_sequence
from annotator.sources import build_from_gtf
from tests.unit.annotator import genome as G

FIELDS = CSQ_FORMAT.split("|")
OTHER = {"A": "C", "C": "G", "G": "T", "T": "A"}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """Two reference dirs of the same gene model: coordinates only, and with the sequence."""
    root = tmp_path_factory.mktemp("genome")
    gtf = G.write_gtf(root / "genome.gtf")
    plain = root / "plain"
    build_from_gtf(gtf, "GRCh38", plain / "GRCh38")
    seq = root / "seq"
    shutil.copytree(plain, seq)
    add_sequence(seq / "GRCh38", G.write_fasta(root / "genome.fa", {"1": "chr1", "MT": "chrM"}))
    return {"plain": plain, "seq": seq}


def annotate(bundles, tmp_path, records: list[str], which: str = "seq", **kw) -> list[dict]:
    """Annotate records (CHROM POS REF ALT) and return each record's INFO and CSQ blocks."""
    vcf = tmp_path / "in.vcf"
    body = "".join(
        "\t".join([c, p, ".", r, a, ".", ".", "."]) + "\n"
        for c, p, r, a in (x.split() for x in records)
    )
    contigs = "".join(f"##contig=<ID={c},length={n}>\n" for c, n in G.LENGTHS.items())
    head = "##fileformat=VCFv4.2\n" + contigs + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    vcf.write_text(head + body)
    out = tmp_path / f"out-{which}.vcf"
    annotate_file(
        vcf,
        out,
        tmp_path / "o.log",
        tmp_path / "o.json",
        build="GRCh38",
        reference_dir=bundles[which],
        **kw,
    )
    rows = []
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        info = dict(kv.split("=", 1) for kv in line.split("\t")[7].split(";"))
        blocks = [dict(zip(FIELDS, b.split("|"), strict=True)) for b in info["GAS_CSQ"].split(",")]
        rows.append({"info": info, "csq": blocks})
    return rows


def on(row: dict, tx: G.Tx, allele: str | None = None) -> dict:
    """The CSQ block of a transcript (and allele) in a record."""
    got = [
        b
        for b in row["csq"]
        if b["Feature"] == tx.tx_id and (allele is None or b["Allele"] == allele)
    ]
    assert len(got) == 1, row["csq"]
    return got[0]


def snv(tx: G.Tx, cds_pos: int, alt: str | None = None) -> tuple[str, str]:
    """A record changing CDS position cds_pos (genomic REF and ALT)."""
    k, ref = G.cds_site(tx, cds_pos)
    return f"{tx.contig} {k + 1} {ref} {alt or OTHER[ref]}", alt or OTHER[ref]


def expected(tx: G.Tx, cds_pos: int, alt: str) -> tuple[str, str, str]:
    """(term, Amino_acids, HGVSp tail) worked out from the genome's codon."""
    code = MITOCHONDRIAL if tx.contig == "MT" else STANDARD
    n = (cds_pos - 1) // 3 + 1
    ref_codon = G.codon(tx, n)
    at = (cds_pos - 1) % 3
    t_alt = alt if tx.strand == "+" else reverse_complement(alt)
    alt_codon = ref_codon[:at] + t_alt + ref_codon[at + 1 :]
    r, a = code[ref_codon], code[alt_codon]
    if n == 1 and r == "M" and a != "M":
        return "start_lost", f"{r}/{a}", "p.Met1?"
    if r == "*":
        return ("stop_retained_variant" if a == "*" else "stop_lost"), "", ""
    if a == "*":
        return "stop_gained", f"{r}/*", f"p.{THREE_LETTER[r]}{n}Ter"
    if r == a:
        return "synonymous_variant", r, f"p.{THREE_LETTER[r]}{n}%3D"
    return "missense_variant", f"{r}/{a}", f"p.{THREE_LETTER[r]}{n}{THREE_LETTER[a]}"


@pytest.mark.parametrize("tx", [G.PLUS, G.MINUS], ids=["plus", "minus"])
def test_every_codon_position_on_both_strands_matches_the_codon_table(bundles, tmp_path, tx):
    n_codons = len(tx.coding_keys()) // 3
    positions = list(range(1, 3 * n_codons - 2))  # all but the stop codon
    records, alts = zip(*(snv(tx, p) for p in positions), strict=True)
    rows = annotate(bundles, tmp_path, list(records))
    for pos, alt, row in zip(positions, alts, rows, strict=True):
        block = on(row, tx)
        term, amino, hgvsp = expected(tx, pos, alt)
        assert term in block["Consequence"].split("&"), (pos, block)
        assert block["Amino_acids"] == amino
        assert block["HGVSp"] == (f"{tx.tx_id}:{hgvsp}" if hgvsp else "")
        assert block["CDS_position"] == str(pos)
        assert block["Protein_position"] == str((pos - 1) // 3 + 1)
        ref_t = G.codon(tx, (pos - 1) // 3 + 1)
        i = (pos - 1) % 3
        shown = "".join(ch.upper() if j == i else ch.lower() for j, ch in enumerate(ref_t))
        assert block["Codons"].split("/")[0] == shown
        t_ref = ref_t[i]
        t_alt = alt if tx.strand == "+" else reverse_complement(alt)
        assert block["HGVSc"] == f"{tx.tx_id}:c.{pos}{t_ref}>{t_alt}"


def test_a_codon_split_across_an_exon_boundary_is_read_from_both_exons(bundles, tmp_path):
    # Exon 1 of the + gene holds 40 coding bases: codon 14 is base 40 there and 41-42 in exon 2.
    rows = annotate(bundles, tmp_path, [snv(G.PLUS, 40)[0], snv(G.PLUS, 41)[0]])
    codon = G.codon(G.PLUS, 14)
    first, second = on(rows[0], G.PLUS), on(rows[1], G.PLUS)
    assert first["Codons"].split("/")[0] == codon[0].upper() + codon[1:].lower()
    assert second["Codons"].split("/")[0] == codon[0].lower() + codon[1].upper() + codon[2].lower()
    assert first["EXON"] == "1/3" and second["EXON"] == "2/3"
    # Both sit at an exon edge: splice region as well.
    assert "splice_region_variant" in first["Consequence"]
    assert "splice_region_variant" in second["Consequence"]


def test_stop_codon_changes(bundles, tmp_path):
    n = len(G.PLUS.coding_keys())
    rows = annotate(bundles, tmp_path, [snv(G.PLUS, n - 2)[0], snv(G.PLUS, n, "G")[0]])
    first, last = on(rows[0], G.PLUS), on(rows[1], G.PLUS)
    assert first["Consequence"].startswith("stop_lost")  # TAA -> CAA
    assert re.fullmatch(rf"{G.PLUS.tx_id}:p\.Ter63\w{{3}}extTer(\d+|\?)", first["HGVSp"])
    assert last["Consequence"] == "stop_retained_variant"  # TAA -> TAG
    assert last["HGVSp"] == f"{G.PLUS.tx_id}:p.Ter63%3D"


def test_coordinates_only_never_guesses(bundles, tmp_path):
    n_codons = len(G.PLUS.coding_keys()) // 3
    positions = list(range(1, 3 * n_codons + 1))
    records, alts = zip(*(snv(G.PLUS, p) for p in positions), strict=True)
    rows = annotate(bundles, tmp_path, list(records), which="plain")
    decided = 0
    for pos, alt, row in zip(positions, alts, rows, strict=True):
        block = on(row, G.PLUS)
        terms = set(block["Consequence"].split("&")) - {"splice_region_variant"}
        truth = expected(G.PLUS, pos, alt)[0]
        assert terms in ({truth}, {"coding_sequence_variant"}), (pos, block, truth)
        decided += terms == {truth}
        assert block["Amino_acids"] == block["Codons"] == block["HGVSp"] == ""
        assert block["HGVSc"].endswith(f"c.{pos}{G.cds_site(G.PLUS, pos)[1]}>{alt}")
    assert decided >= 20  # the start codon, the stop's first base, third-position C<->T, ...
    assert rows[0]["info"]["GAS_CONSEQUENCE"] == "start_lost"


def test_an_incomplete_cds_start_gets_no_codon_call(bundles, tmp_path):
    rows = annotate(bundles, tmp_path, [snv(G.NO_START, 4)[0]])
    assert on(rows[0], G.NO_START)["Consequence"] == "coding_sequence_variant"
    assert on(rows[0], G.NO_START)["FLAGS"] == "cds_start_NF"


def test_the_mitochondrial_code(bundles, tmp_path):
    # Codon 6 is TGA (Trp on MT), codon 7 ATA (Met), the last AGA (a stop on MT).
    records = [
        snv(G.MITO, 18, "G")[0],  # TGA -> TGG: Trp both ways
        snv(G.MITO, 16, "C")[0],  # TGA -> CGA: Trp -> Arg
        snv(G.MITO, 21, "G")[0],  # ATA -> ATG: Met both ways
        snv(G.MITO, 59, "G")[0],  # AGA -> AGG: a stop both ways
        snv(G.MITO, 58, "C")[0],  # AGA -> CGA: stop lost
    ]
    rows = annotate(bundles, tmp_path, records)
    got = [on(r, G.MITO) for r in rows]
    assert got[0]["Consequence"] == "synonymous_variant" and got[0]["Amino_acids"] == "W"
    assert got[1]["Consequence"] == "missense_variant" and got[1]["Amino_acids"] == "W/R"
    assert got[2]["Consequence"] == "synonymous_variant" and got[2]["Amino_acids"] == "M"
    assert got[3]["Consequence"] == "stop_retained_variant"
    assert got[4]["Consequence"] == "stop_lost"


def test_indels_frame_and_hgvs(bundles, tmp_path):
    k, ref = G.cds_site(G.PLUS, 30)
    nxt = G.base("1", k + 1)
    records = [
        f"1 {k + 1} {ref}{nxt} {ref}",  # delete CDS base 31
        f"1 {k + 1} {ref} {ref}GCA",  # insert 3 bases after CDS 30
    ]
    rows = annotate(bundles, tmp_path, records)
    deletion, insertion = on(rows[0], G.PLUS), on(rows[1], G.PLUS)
    assert deletion["Consequence"] == "frameshift_variant"
    assert deletion["HGVSc"].endswith("del") and "c." in deletion["HGVSc"]
    assert re.fullmatch(
        rf"{G.PLUS.tx_id}:p\.\w{{3}}\d+\w{{3}}fsTer(\d+|\?)", deletion["HGVSp"]
    ) or (deletion["HGVSp"].endswith("Ter"))
    assert "inframe_insertion" in insertion["Consequence"]
    assert (
        insertion["HGVSc"].split(":c.")[1].endswith(("insGCA", "dup"))
        or "ins" in insertion["HGVSc"]
    )
    plain = annotate(bundles, tmp_path, records, which="plain")
    assert on(plain[0], G.PLUS)["Consequence"] == "frameshift_variant"
    assert on(plain[0], G.PLUS)["HGVSc"] == ""  # its 3' shifted place needs the sequence
    assert on(plain[1], G.PLUS)["Consequence"] == "inframe_insertion"


def across_the_edge() -> str:
    """A deletion of exon 2's last base and the intron's first ones that trimming cannot move
    back into the exon (its last deleted base differs from the base before it)."""
    anchor = G.base("1", 398)
    length = next(n for n in (2, 3, 4, 5) if G.base("1", 398 + n) != anchor)
    deleted = "".join(G.base("1", 399 + i) for i in range(length))
    return f"1 399 {anchor}{deleted} {anchor}"


def test_deletions_and_insertions_at_exon_edges(bundles, tmp_path):
    # Exon 2 of the + gene is [300, 400): delete the last exon base and the first intron bases.
    records = [
        across_the_edge(),
        f"1 400 {G.base('1', 399)} {G.base('1', 399)}T",  # between the exon and the intron
        f"1 401 {G.base('1', 400)}{G.base('1', 401)} {G.base('1', 400)}",  # intron base +2
    ]
    rows = annotate(bundles, tmp_path, records)
    across, edge, donor = (on(r, G.PLUS) for r in rows)
    assert {"splice_donor_variant", "coding_sequence_variant", "intron_variant"} <= set(
        across["Consequence"].split("&")
    )
    assert "splice_region_variant" in edge["Consequence"]
    assert "splice_donor_variant" in donor["Consequence"]


def test_multiallelic_records_get_a_block_per_allele(bundles, tmp_path):
    k, ref = G.cds_site(G.PLUS, 5)
    alts = [b for b in "ACGT" if b != ref]
    rows = annotate(bundles, tmp_path, [f"1 {k + 1} {ref} {','.join(alts)}"])
    row = rows[0]
    per = [on(row, G.PLUS, a) for a in alts]
    assert [b["Allele"] for b in per] == alts
    worst = row["info"]["GAS_CONSEQUENCE"].split(",")
    assert len(worst) == 3
    for b, w, alt in zip(per, worst, alts, strict=True):
        assert b["Consequence"].split("&")[0] == w == expected(G.PLUS, 5, alt)[0]


def test_ref_mismatches_are_counted_and_get_no_sequence_call(bundles, tmp_path):
    k, ref = G.cds_site(G.PLUS, 5)
    wrong = OTHER[ref]
    rows = annotate(bundles, tmp_path, [f"1 {k + 1} {wrong} {OTHER[wrong]}"])
    assert on(rows[0], G.PLUS)["Amino_acids"] == ""
    summary = (tmp_path / "o.json").read_text()
    assert '"ref_mismatches": 1' in summary


@pytest.mark.skipif(not shutil.which("bcftools"), reason="bcftools is not installed")
def test_bcftools_split_vep_reads_gas_csq(bundles, tmp_path):
    annotate(bundles, tmp_path, [snv(G.PLUS, 5)[0], snv(G.MINUS, 5)[0]])
    got = subprocess.run(
        ["bcftools", "+split-vep", "-a", "GAS_CSQ", "-d", "-f", "%CHROM %POS %Consequence\n"]
        + [str(tmp_path / "out-seq.vcf")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = got.stdout.splitlines()
    assert lines and all(len(ln.split()) == 3 for ln in lines)
    assert any("_variant" in ln for ln in lines)


def test_transcript_sets(bundles, tmp_path):
    record = snv(G.PLUS, 5)[0]
    every = annotate(bundles, tmp_path, [record], transcripts="all")[0]["csq"]
    per_gene = annotate(bundles, tmp_path, [record])[0]["csq"]
    pick = annotate(bundles, tmp_path, [record], transcripts="pick")[0]["csq"]
    assert len(pick) == 1 and pick[0]["PICK"] == "1"
    assert len(per_gene) == len({b["SYMBOL"] for b in every})
    assert pick[0]["Feature"] == G.PLUS.tx_id


def test_duplications_and_3_prime_shifts_in_hgvsc(bundles, tmp_path):
    # Insert a copy of CDS bases 28-30 right after them: HGVS calls it a duplication, placed
    # as far 3' as the sequence repeats.
    k28, _ = G.cds_site(G.PLUS, 28)
    copy = "".join(G.base("1", k28 + i) for i in range(3))
    anchor = G.base("1", k28 + 2)
    rows = annotate(bundles, tmp_path, [f"1 {k28 + 3} {anchor} {anchor}{copy}"])
    block = on(rows[0], G.PLUS)
    assert block["HGVSc"].endswith("dup"), block
    first, last = block["HGVSc"].split(":c.")[1].removesuffix("dup").split("_")
    assert int(last) - int(first) == 2 and int(last) >= 30
    # On the minus strand the 3' side is to the left on the genome: a one-base deletion in a
    # run is named at the run's 5'-most genomic base, which is its 3' end in the transcript.
    keys = G.MINUS.coding_keys()
    run = next(
        i
        for i in range(10, len(keys) - 10)
        if G.base("1", keys[i]) == G.base("1", keys[i + 1]) != G.base("1", keys[i + 2])
    )
    k = keys[run + 1]  # the genomically lower base of the run of two
    before = G.base("1", k - 1)
    rows = annotate(bundles, tmp_path, [f"1 {k} {before}{G.base('1', k)} {before}"])
    block = on(rows[0], G.MINUS)
    assert block["HGVSc"] == f"{G.MINUS.tx_id}:c.{run + 2}del", block
