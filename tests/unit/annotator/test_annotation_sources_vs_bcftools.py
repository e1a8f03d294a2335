"""GAS's annotation sources against Debian's `bcftools annotate -a`, value for value per allele.

bcftools pairs a record with the annotation record at the same CHROM and POS whose alleles are
written the same way, so it is given what GAS does by itself: both files normalised with
`bcftools norm -m-any -f genome.fa` (multi-allelic records split, alleles trimmed and indels
left-aligned), the input's `chr` names renamed to the source's. GAS gets the files as written
(multi-allelic, padded, shifted in repeats, `chr1`/`chrM` against `1`/`MT`) and must give every
ALT allele the values bcftools gave its split record. Generated files hit each hard case (and
the test checks that each one was hit); the ClinVar excerpt in ../shared/truth is a real source.
"""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam
import pytest

from annotator.annotation_sources import build_source
from annotator.engine import annotate_file
from annotator.sequence import add_sequence
from annotator.sources import build_from_gtf

pytestmark = pytest.mark.skipif(
    shutil.which("bcftools") is None, reason="needs Debian's bcftools (make setup-bio-tools)"
)

LENGTHS = {"1": 60_000, "MT": 6_000}
STEP = 300  # a repeat at 100 of every 300 bases; the other cases between them
INPUT_NAMES = {"1": "chr1", "MT": "chrM"}
FIELDS = ["AF", "AC", "DP", "NAME", "LIST", "FL"]
HEADER = (
    "##fileformat=VCFv4.2\n"
    + "".join(f"##contig=<ID={c},length={n}>\n" for c, n in LENGTHS.items())
    + '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency, per ALT">\n'
    '##INFO=<ID=AC,Number=R,Type=Integer,Description="Allele counts, REF first">\n'
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    '##INFO=<ID=NAME,Number=1,Type=String,Description="A name">\n'
    '##INFO=<ID=LIST,Number=.,Type=String,Description="A list, commas and all">\n'
    '##INFO=<ID=FL,Number=0,Type=Flag,Description="A flag">\n'
    '##INFO=<ID=AIDX,Number=A,Type=Integer,Description="ALT number (the test\'s key)">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def _genome(seed: int = 5) -> dict[str, str]:
    """Random bases with repeats planted every STEP bases: homopolymers, di- and trinucleotides."""
    rng = random.Random(seed)
    out = {}
    for contig, n in LENGTHS.items():
        s = [rng.choice("ACGT") for _ in range(n)]
        for at in range(100, n - 100, STEP):
            unit = rng.choice(["A", "T", "C", "AC", "AG", "CAG", "TTA"])
            rep = unit * rng.randint(3, 8)
            s[at : at + len(rep)] = rep
        out[contig] = "".join(s)
    return out


GENOME = _genome()


@dataclass
class Variant:
    """One allele in one way of writing it (0-based start of REF; ``kind`` names the case)."""

    contig: str
    start: int
    ref: str
    alt: str
    kind: str
    dup_of: tuple[int, int] | None = None  # (source record, ALT number) it repeats


@dataclass
class Case:
    source: list[list[Variant]] = field(default_factory=list)  # records (several ALTs = one)
    input: list[list[Variant]] = field(default_factory=list)


def _del(c: str, s: int, length: int, pad_left: int = 1, pad_right: int = 0, kind="") -> Variant:
    g = GENOME[c]
    a, b = s - pad_left, s + length + pad_right
    return Variant(c, a, g[a:b], g[a:s] + g[s + length : b], kind)


def _ins(c: str, t: int, seq: str, pad_left: int = 1, pad_right: int = 0, kind="") -> Variant:
    g = GENOME[c]
    a, b = t - pad_left, t + pad_right
    return Variant(c, a, g[a:b], g[a:t] + seq + g[t:b], kind)


def _snv(c: str, s: int, alt: str, pad: int = 0, kind="") -> Variant:
    g = GENOME[c]
    return Variant(
        c, s - pad, g[s - pad : s + 1 + pad], g[s - pad : s] + alt + g[s + 1 : s + 1 + pad], kind
    )


def _other(base: str, rng: random.Random, avoid: str = "") -> str:
    return rng.choice([b for b in "ACGT" if b != base and b not in avoid])


def _repeats(c: str) -> list[tuple[int, int, int]]:
    """(start, end, unit length) of the planted repeats of a contig."""
    g = GENOME[c]
    found = []
    for at in range(100, len(g) - 100, STEP):
        for unit_len in (1, 2, 3):
            unit = g[at : at + unit_len]
            end = at
            while g[end : end + unit_len] == unit:
                end += unit_len
            if end - at >= 3 * unit_len:
                found.append((at, end, unit_len))
                break
    return found


def generate(seed: int = 11) -> Case:
    """Source and input records hitting every hard case, with their kinds."""
    rng = random.Random(seed)
    case = Case()
    for c in LENGTHS:
        g = GENOME[c]
        # Indels in repeats: the source writes the leftmost, the input a shifted or padded one.
        for a, e, u in _repeats(c):
            if rng.random() < 0.5:
                src = _del(c, a, u, kind="del")
                s2 = rng.randrange(a, e - u + 1)
                inp = _del(c, s2, u, pad_left=rng.choice([1, 2]), pad_right=rng.choice([0, 1]))
                inp.kind = "shifted-deletion" if s2 != a else "padded-deletion"
            else:
                src = _ins(c, a, g[a : a + u], kind="ins")
                t2 = rng.randrange(a + u, e + 1)
                inp = _ins(c, t2, g[t2 - u : t2], pad_left=1, pad_right=rng.choice([0, 1]))
                inp.kind = "shifted-insertion"
            case.source.append([src])
            case.input.append([inp])
        # SNVs and MNVs between repeats, some written long on one side.
        for at in range(150, len(g) - 200, STEP):
            s = at + rng.randrange(0, 30)
            alt = _other(g[s], rng)
            pad = rng.choice([0, 0, 1])
            case.source.append([_snv(c, s, alt, pad=rng.choice([0, 1]), kind="snv")])
            kind = "snv-written-long" if pad else "snv"
            if rng.random() < 0.3:
                # A multi-allelic input record: the source's ALT beside one the source lacks.
                other = _other(g[s], rng, alt)
                alts = [
                    _snv(c, s, alt, kind="multi-allelic-input"),
                    _snv(c, s, other, kind="novel"),
                ]
                rng.shuffle(alts)
                case.input.append(alts)
            else:
                case.input.append([_snv(c, s, alt, pad=pad, kind=kind)])
            # A multi-allelic source record at s + 40: SNV, deletion and insertion on one REF.
            m = s + 40
            ref = g[m : m + 3]
            snv_alt = _other(ref[0], rng)
            rec = [
                Variant(c, m, ref, snv_alt + ref[1:], "multi-allelic-source"),
                Variant(c, m, ref, ref[0], "multi-allelic-source"),
                Variant(c, m, ref, ref[0] + "G" + ref[1:], "multi-allelic-source"),
            ]
            case.source.append(rec)
            # The input writes each minimally (and one not at all).
            case.input.append([_snv(c, m, snv_alt, kind="split-from-multi-allelic")])
            case.input.append([_del(c, m + 1, 2, kind="split-from-multi-allelic")])
            # Records at the same position: another source record at m, other alleles; and a
            # duplicate of the SNV, with the same values (which one wins is a matter of order:
            # GAS keeps the source's first, test_the_first_of_duplicates_wins).
            third = _other(ref[0], rng, snv_alt)
            case.source.append([_snv(c, m, third, kind="same-position")])
            dup = _snv(c, m, snv_alt, kind="duplicate")
            dup.dup_of = (len(case.source) - 2, 0)
            case.source.append([dup])
            case.input.append([_snv(c, m, third, kind="same-position")])
            # An MNV: the source writes it with a shared flank, the input minimally.
            n = s + 80
            mnv = _other(g[n], rng) + _other(g[n + 1], rng)
            case.source.append(
                [Variant(c, n - 1, g[n - 1 : n + 3], g[n - 1] + mnv + g[n + 2], "mnv")]
            )
            case.input.append([Variant(c, n, g[n : n + 2], mnv, "mnv-written-differently")])
            # A novel allele where the source has nothing.
            z = s + 110
            case.input.append([_snv(c, z, _other(g[z], rng), kind="novel")])
    return case


def _values(rng: random.Random, n_alt: int) -> dict:
    return {
        "AF": [
            "." if rng.random() < 0.1 else f"{rng.random() / 10 ** rng.randint(0, 5):.6g}"
            for _ in range(n_alt)
        ],
        "AC": [str(rng.randint(0, 500)) for _ in range(n_alt + 1)],
        "DP": str(rng.randint(1, 900)),
        "LIST": f"x{rng.randint(0, 9)},y",
        "FL": rng.random() < 0.3,
    }


def _info(v: dict, name: str) -> str:
    text = (
        f"AF={','.join(v['AF'])};AC={','.join(v['AC'])};DP={v['DP']};NAME={name};LIST={v['LIST']}"
    )
    return text + (";FL" if v["FL"] else "")


def write_vcf(path: Path, records: list[list[Variant]], names: dict[str, str], rng=None) -> None:
    """Records sorted by position; a source (``rng`` given) gets random values, and a duplicate
    the values of the allele it repeats (so it does not matter which of the two wins)."""
    values = [_values(rng, len(alts)) for alts in records] if rng else []
    for i, alts in enumerate(records):
        if rng and alts[0].dup_of is not None:
            j, k = alts[0].dup_of
            v = values[j]
            values[i] = {**v, "AF": [v["AF"][k]], "AC": [v["AC"][0], v["AC"][k + 1]]}
    order = sorted(
        range(len(records)),
        key=lambda i: (list(LENGTHS).index(records[i][0].contig), records[i][0].start),
    )
    lines = []
    for i in order:
        alts = records[i]
        v = alts[0]
        # One REF for the record: the longest, every ALT extended to it.
        ref = max((a.ref for a in alts if a.start == v.start), key=len)
        alt_text = ",".join(a.alt + ref[len(a.ref) :] for a in alts)
        if rng:
            j = alts[0].dup_of[0] if alts[0].dup_of else i
            info = _info(values[i], f"r{j}")
            rid = f"s{i}"
        else:
            info = "AIDX=" + ",".join(str(k) for k in range(len(alts)))
            rid = f"i{i}"
        contig = names[v.contig]
        lines.append(f"{contig}\t{v.start + 1}\t{rid}\t{ref}\t{alt_text}\t.\t.\t{info}\n")
    header = HEADER.replace("##contig=<ID=1,", f"##contig=<ID={names['1']},").replace(
        "##contig=<ID=MT,", f"##contig=<ID={names['MT']},"
    )
    path.write_text(header + "".join(lines))


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A genome of the test's own making: a bundle with its sequence, and its FASTA."""
    root = tmp_path_factory.mktemp("sources-vs-bcftools")
    gtf = root / "model.gtf"
    rows = []
    for c, n in LENGTHS.items():
        attrs = (
            f'gene_id "G{c}"; gene_name "G{c}"; gene_type "protein_coding"; transcript_id "T{c}";'
        )
        for kind in ("gene", "transcript", "exon"):
            rows.append(f"{c}\tT\t{kind}\t{n // 4}\t{n // 2}\t.\t+\t.\t{attrs}\n")
    gtf.write_text("".join(rows))
    build_from_gtf(gtf, "GRCh38", root / "ref" / "GRCh38")
    fasta = root / "genome.fa"
    fasta.write_text("".join(f">{c}\n{s}\n" for c, s in GENOME.items()))
    pysam.faidx(str(fasta))
    add_sequence(root / "ref" / "GRCh38", fasta)
    return {"root": root, "ref": root / "ref", "fasta": fasta}


def bcftools_values(world, source: Path, inp: Path, columns: str, fmt: str) -> dict:
    """bcftools' values per (input record ID, ALT number), after normalising both files."""
    root = world["root"]
    names = root / "names.tsv"
    names.write_text("".join(f"{v}\t{k}\n" for k, v in INPUT_NAMES.items()))
    renamed = root / "renamed.vcf"
    sh(
        "bcftools",
        "annotate",
        "--no-version",
        "--rename-chrs",
        str(names),
        "-o",
        str(renamed),
        str(inp),
    )
    ready = {}
    for label, path in (("src", source), ("in", renamed)):
        normed = root / f"{label}.norm.vcf"
        sh(
            "bcftools",
            "norm",
            "--no-version",
            "-m-any",
            "-f",
            str(world["fasta"]),
            "-o",
            str(normed),
            str(path),
        )
        ready[label] = root / f"{label}.vcf.gz"
        sh("bcftools", "sort", "-Oz", "-o", str(ready[label]), str(normed))
        sh("bcftools", "index", "-f", "-t", str(ready[label]))
    out = root / "bcftools.vcf"
    sh(
        "bcftools",
        "annotate",
        "--no-version",
        "-a",
        str(ready["src"]),
        "-c",
        columns,
        "-o",
        str(out),
        str(ready["in"]),
    )
    found = {}
    for line in sh("bcftools", "query", "-f", fmt, str(out)).splitlines():
        rid, aidx, *vals = line.split("\t")
        found[(rid, int(aidx))] = vals
    return found


def gas_records(path: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        info = dict(x.split("=", 1) if "=" in x else (x, "") for x in f[7].split(";"))
        out[f[2]] = (f[4].split(","), info)
    return out


def _missing(v: str | None) -> bool:
    return v in (None, ".", "")


def _same_float(a: str | None, b: str | None) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    return f"{np.float32(float(a)):.6g}" == f"{float(b):.6g}"


def test_generated_sources_match_bcftools_for_every_allele(world, tmp_path):
    case = generate()
    rng = random.Random(3)
    src, inp = tmp_path / "source.vcf", tmp_path / "input.vcf"
    write_vcf(src, case.source, {"1": "1", "MT": "MT"}, rng)
    write_vcf(inp, case.input, INPUT_NAMES)
    built = build_source(
        src,
        tmp_path / "built",
        name="gen",
        build="GRCh38",
        fields=FIELDS,
        reference_dir=world["ref"],
    )
    assert built["aligned_contigs"] == ["1", "MT"]
    out = tmp_path / "gas.vcf"
    annotate_file(
        inp,
        out,
        tmp_path / "log",
        tmp_path / "s.json",
        build="GRCh38",
        reference_dir=world["ref"],
        sources=[tmp_path / "built"],
    )
    columns = "INFO/AF,INFO/AC,INFO/DP,INFO/NAME,INFO/LIST,INFO/FL"
    fmt = "%ID\t%INFO/AIDX\t%INFO/AF\t%INFO/AC\t%INFO/DP\t%INFO/NAME\t%INFO/LIST\t%INFO/FL\n"
    theirs = bcftools_values(world, src, inp, columns, fmt)
    ours = gas_records(out)
    kinds = {f"i{i}": [a.kind for a in rec] for i, rec in enumerate(case.input)}
    contig = {f"i{i}": rec[0].contig for i, rec in enumerate(case.input)}
    on_mt = 0
    matched: dict[str, int] = {}
    checked = 0
    flags_by_record: dict[str, list[bool]] = {}
    for (rid, k), (af, ac, dp, name, lst, fl) in theirs.items():
        alts, info = ours[rid]
        single = len(alts) == 1

        def mine(tag: str, i: int, info: dict = info) -> str | None:
            got = info.get(tag)
            return None if got is None else got.split(",")[i]

        assert _same_float(mine("GAS_GEN_AF", k), af), (rid, k, info.get("GAS_GEN_AF"), af)
        if not _missing(ac):
            ref_count, alt_count = ac.split(",")
            assert mine("GAS_GEN_AC", k + 1) == alt_count, (rid, k)
            if single:  # GAS writes one REF count per record (its first matched allele's)
                assert mine("GAS_GEN_AC", 0) == ref_count
        else:
            assert _missing(mine("GAS_GEN_AC", k + 1))
        assert (mine("GAS_GEN_DP", k) or ".") == (dp if not _missing(dp) else "."), (rid, k)
        assert (mine("GAS_GEN_NAME", k) or ".") == (name if not _missing(name) else "."), (rid, k)
        gas_list = mine("GAS_GEN_LIST", k)
        gas_list = None if _missing(gas_list) else gas_list.replace("%2C", ",")
        assert gas_list == (None if _missing(lst) else lst), (rid, k)
        flags_by_record.setdefault(rid, []).append(fl == "1")
        checked += 1
        if not _missing(name):
            kind = kinds[rid][k]
            matched[kind] = matched.get(kind, 0) + 1
            on_mt += contig[rid] == "MT"  # chrM in the input, MT in the source
    for rid, flags in flags_by_record.items():  # a flag is per record: set when any ALT's is
        assert ("GAS_GEN_FL" in ours[rid][1]) == any(flags), rid
    assert checked == sum(len(r) for r in case.input)
    # Every hard case was hit, on both contigs' worth of records.
    for kind in (
        "shifted-deletion",
        "padded-deletion",
        "shifted-insertion",
        "snv",
        "snv-written-long",
        "multi-allelic-input",
        "split-from-multi-allelic",
        "same-position",
        "mnv-written-differently",
    ):
        assert matched.get(kind, 0) >= 5, (kind, matched)
    assert "novel" not in matched
    assert on_mt >= 50


def test_bed_intervals_match_bcftools_by_overlap(world, tmp_path):
    rng = random.Random(8)
    g = GENOME["1"]
    rows = []
    for at in range(50, len(g) - 500, 97):
        rows.append((at, at + rng.randint(1, 60), f"iv{at}", rng.randint(0, 1000), rng.random()))
        if rng.random() < 0.3:  # overlapping and nested intervals: bcftools takes the first
            rows.append((at + 5, at + rng.randint(6, 200), f"ov{at}", rng.randint(0, 9), 0.5))
    rows.sort()
    bed = tmp_path / "regions.bed"
    bed.write_text("".join(f"chr1\t{s}\t{e}\t{n}\t{sc}\t{x:.4f}\n" for s, e, n, sc, x in rows))
    recs = []
    for pos in range(60, len(g) - 600, 13):
        kind = rng.choice(["snv", "del", "ins", "multi"])
        if kind == "snv":
            recs.append([_snv("1", pos, _other(g[pos], rng))])
        elif kind == "del":
            recs.append([_del("1", pos, rng.randint(1, 12))])
        elif kind == "ins":
            recs.append([_ins("1", pos, "TT")])
        else:
            recs.append([_snv("1", pos, a) for a in "ACGT" if a != g[pos]][:2])
    inp = tmp_path / "input.vcf"
    write_vcf(inp, recs, {"1": "1", "MT": "MT"})
    build_source(bed, tmp_path / "built", name="targets", build="GRCh38", fields=["4", "5", "6"])
    out = tmp_path / "gas.vcf"
    annotate_file(
        inp,
        out,
        tmp_path / "log",
        tmp_path / "s.json",
        build="GRCh38",
        reference_dir=world["ref"],
        sources=[tmp_path / "built"],
    )
    # bcftools: the BED bgzipped and indexed, its chr names renamed to the input's.
    plain = tmp_path / "plain.bed"
    plain.write_text(bed.read_text().replace("chr1\t", "1\t"))
    sh("bgzip", "-f", str(plain))
    sh("tabix", "-f", "-p", "bed", f"{plain}.gz")
    gz = tmp_path / "input.vcf.gz"
    sh("bcftools", "view", "-Oz", "-o", str(gz), str(inp))
    header = tmp_path / "h.txt"
    header.write_text(
        '##INFO=<ID=N,Number=1,Type=String,Description="n">\n'
        '##INFO=<ID=S,Number=1,Type=Integer,Description="s">\n'
        '##INFO=<ID=X,Number=1,Type=Float,Description="x">\n'
    )
    theirs_vcf = tmp_path / "bcftools.vcf"
    sh(
        "bcftools",
        "annotate",
        "--no-version",
        "-a",
        f"{plain}.gz",
        "-c",
        "CHROM,FROM,TO,N,S,X",
        "-h",
        str(header),
        "-o",
        str(theirs_vcf),
        str(gz),
    )
    theirs = {}
    for line in sh(
        "bcftools", "query", "-f", "%ID\t%INFO/N\t%INFO/S\t%INFO/X\n", str(theirs_vcf)
    ).splitlines():
        rid, *vals = line.split("\t")
        theirs[rid] = vals
    ours = gas_records(out)
    hits = 0
    for rid, (n, s, x) in theirs.items():
        info = ours[rid][1]
        assert (info.get("GAS_TARGETS_COL4") or ".") == n, (rid, info.get("GAS_TARGETS_COL4"), n)
        assert (info.get("GAS_TARGETS_COL5") or ".") == s, rid
        assert _same_float(info.get("GAS_TARGETS_COL6"), x), rid
        hits += n != "."
    assert hits > 100 and hits < len(theirs)


def test_the_clinvar_excerpt_as_a_source_matches_bcftools(truth, reference_dir, tmp_path):
    """The real ClinVar excerpt (GRCh37, `1` naming) as a source; the input holds each of its
    alleles as `chr1`-style records, multi-allelic merges of records at the same POS and REF,
    and alleles ClinVar does not have. No GRCh37 FASTA here: bcftools only splits (ClinVar is
    normalised already, and the input writes its alleles as ClinVar does)."""
    clinvar = truth / "grch37.clinvar_20191007.slivar.vcf.gz"
    fields = ["CLNSIG", "CLNDN", "GENEINFO", "MC", "AF_EXAC", "ALLELEID", "RS", "CLNREVSTAT"]
    built = build_source(
        clinvar, tmp_path / "clinvar", name="clinvar", build="GRCh37", fields=fields
    )
    assert built["counts"]["records"] == 72
    rng = random.Random(4)
    by_site: dict[tuple[str, str, str], list[str]] = {}
    with gzip.open(clinvar, "rt") as f:
        for line in f:
            if not line.startswith("#"):
                chrom, pos, _, ref, alt = line.split("\t")[:5]
                by_site.setdefault((chrom, pos, ref), []).extend(alt.split(","))
    lines = []
    n = 0
    for (chrom, pos, ref), alts in by_site.items():
        novel = [b for b in "ACGT" if len(ref) == 1 and b != ref and b not in alts][:1]
        mine = alts + (novel if rng.random() < 0.5 else [])
        groups = [mine] if rng.random() < 0.5 else [[a] for a in mine]
        for group in groups:
            aidx = ",".join(str(k) for k in range(len(group)))
            lines.append(
                (
                    chrom,
                    int(pos),
                    f"chr{chrom}\t{pos}\tc{n}\t{ref}\t{','.join(group)}\t.\t.\tAIDX={aidx}\n",
                )
            )
            n += 1
    lines.sort(key=lambda x: (x[0], x[1]))
    inp = tmp_path / "input.vcf"
    inp.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh37\n"
        + "".join(f"##contig=<ID=chr{c}>\n" for c in sorted({k[0] for k in by_site}))
        + '##INFO=<ID=AIDX,Number=A,Type=Integer,Description="ALT number">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(x[2] for x in lines)
    )
    out = tmp_path / "gas.vcf"
    annotate_file(
        inp,
        out,
        tmp_path / "log",
        tmp_path / "s.json",
        build="GRCh37",
        reference_dir=reference_dir,
        sources=[tmp_path / "clinvar"],
    )
    root = tmp_path / "bcf"
    root.mkdir()
    names = root / "names.tsv"
    names.write_text("".join(f"chr{c}\t{c}\n" for c in sorted({k[0] for k in by_site})))
    renamed, split_in, split_src = (
        root / "in.vcf",
        root / "in.split.vcf.gz",
        root / "src.split.vcf.gz",
    )
    sh(
        "bcftools",
        "annotate",
        "--no-version",
        "--rename-chrs",
        str(names),
        "-o",
        str(renamed),
        str(inp),
    )
    # bcftools needs ##contig lines, which the excerpt lacks: it reads a copy that has them.
    declared = root / "clinvar.vcf"
    with gzip.open(clinvar, "rt") as f, declared.open("w") as copy:
        for line in f:
            if line.startswith("#CHROM"):
                copy.writelines(f"##contig=<ID={c}>\n" for c in sorted({k[0] for k in by_site}))
            copy.write(line)
    for src_path, target in ((renamed, split_in), (declared, split_src)):
        sh("bcftools", "norm", "--no-version", "-m-any", "-Oz", "-o", str(target), str(src_path))
        sh("bcftools", "index", "-f", "-t", str(target))
    theirs_vcf = root / "bcftools.vcf"
    sh(
        "bcftools",
        "annotate",
        "--no-version",
        "-a",
        str(split_src),
        "-c",
        ",".join(f"INFO/{f}" for f in fields),
        "-o",
        str(theirs_vcf),
        str(split_in),
    )
    fmt = "%ID\t%INFO/AIDX\t" + "\t".join(f"%INFO/{f}" for f in fields) + "\n"
    ours = gas_records(out)
    matched = 0
    for line in sh("bcftools", "query", "-f", fmt, str(theirs_vcf)).splitlines():
        rid, k, *vals = line.split("\t")
        info = ours[rid][1]
        for f, theirs in zip(fields, vals, strict=True):
            got = info.get(f"GAS_CLINVAR_{f}")
            got = None if got is None else got.split(",")[int(k)].replace("%2C", ",")
            if f == "AF_EXAC":
                assert _same_float(got, theirs), (rid, k, f)
            else:
                assert (got or ".") == theirs, (rid, k, f, got, theirs)
        matched += vals[0] != "."
    assert matched == sum(len(v) for v in by_site.values())  # every ClinVar allele found
