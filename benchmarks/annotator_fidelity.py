"""How often GAS agrees with established annotators on the public truth VCFs in ``../shared/truth``.

Annotates every truth file with GAS (the build its manifest names), then compares, per ALT allele,
GAS's genes and region class with what each truth tool wrote (VEP CSQ, SnpEff ANN/EFF, bcftools
BCSQ, ClinVar GENEINFO/MC). A tool's region class for an allele is the highest-precedence GAS class
of any consequence it lists (GAS's any-gene question); the picked figure compares GAS_PICK_REGION
with VEP ``--pick``'s single block. Prints, per file and per build: gene agreement, region
agreement, agreement where two tools agree, the confusion table, picked-transcript agreement and
breaks of GAS's own documented precedence (checked by brute force against the bundle's genes).

Then consequences (issue 20), per build, against VEP (CSQ) and SnpEff (ANN, EFF), once on the
bundle as installed (coordinates only) and once on a copy of it, in a temporary reference
directory, with an offline sequence added (`gas reference add-sequence`): a FASTA holding only the
truth files' REF alleles and the bases of VEP's `Codons`, N elsewhere. Per tool: coding SNVs
compared and the share whose coding term agrees (with the disagreement classes), contradictions
(a GAS term other than coding_sequence_variant the tool does not give on that transcript),
frameshift/inframe agreement on coding indels, HGVSc and HGVSp agreement where GAS and the tool
name the same transcript (by ID, or tied by structure: see benchmarks/consequence_truth.py).

    python benchmarks/annotator_fidelity.py [--truth DIR] [--reference-dir DIR] [--show N]
        [--no-sequence]   # skip the with-sequence run
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from annotator.bundle import canonical_contig, load_bundle  # noqa: E402
from annotator.engine import REGIONS, annotate_file  # noqa: E402
from benchmarks.consequence_truth import (  # noqa: E402
    NOT_IN_VOCABULARY,
    CodonPlacer,
    ConsequenceTally,
    TruthSequence,
    TxCall,
    ann_calls,
    csq_calls,
    eff_calls,
    header_formats,
    report_lines,
    tally_record,
)

RANK = {r: i for i, r in enumerate(REGIONS)}

# Sequence Ontology terms (VEP, ClinVar MC, SnpEff 4+ ANN), SnpEff 3 EFF names and bcftools csq
# names → GAS region class. Terms that only qualify another (NMD_transcript_variant,
# non_coding_transcript_variant, feature_elongation...) are left out: the term beside them decides.
TERM_CLASS = {
    **dict.fromkeys(
        [
            "missense_variant",
            "synonymous_variant",
            "stop_gained",
            "stop_lost",
            "start_lost",
            "frameshift_variant",
            "inframe_insertion",
            "inframe_deletion",
            "disruptive_inframe_insertion",
            "disruptive_inframe_deletion",
            "conservative_inframe_insertion",
            "conservative_inframe_deletion",
            "coding_sequence_variant",
            "stop_retained_variant",
            "start_retained_variant",
            "incomplete_terminal_codon_variant",
            "protein_altering_variant",
            "initiator_codon_variant",
            "exon_loss_variant",
            "nonsense",
            "NON_SYNONYMOUS_CODING",
            "SYNONYMOUS_CODING",
            "STOP_GAINED",
            "STOP_LOST",
            "START_LOST",
            "FRAME_SHIFT",
            "CODON_INSERTION",
            "CODON_DELETION",
            "CODON_CHANGE",
            "CODON_CHANGE_PLUS_CODON_INSERTION",
            "CODON_CHANGE_PLUS_CODON_DELETION",
            "NON_SYNONYMOUS_START",
            "SYNONYMOUS_START",
            "SYNONYMOUS_STOP",
            "EXON_DELETED",
            "missense",
            "synonymous",
            "frameshift",
            "inframe_altering",
            "stop_retained",
            "start_retained",
            "coding_sequence",
        ],
        "CDS",
    ),
    **dict.fromkeys(
        [
            "5_prime_UTR_variant",
            "5_prime_UTR_premature_start_codon_gain_variant",
            "5_prime_UTR_truncation",
            "UTR_5_PRIME",
            "UTR_5_DELETED",
            "START_GAINED",
            "5_prime_utr",
        ],
        "UTR5",
    ),
    **dict.fromkeys(
        ["3_prime_UTR_variant", "3_prime_UTR_truncation", "UTR_3_PRIME", "UTR_3_DELETED"], "UTR3"
    ),
    "3_prime_utr": "UTR3",
    **dict.fromkeys(
        [
            "non_coding_transcript_exon_variant",
            "non_coding_exon_variant",
            "mature_miRNA_variant",
            "EXON",
            "non_coding",
        ],
        "ncExon",
    ),
    **dict.fromkeys(
        [
            "splice_region_variant",
            "splice_acceptor_variant",
            "splice_donor_variant",
            "splice_donor_5th_base_variant",
            "splice_donor_region_variant",
            "SPLICE_SITE_ACCEPTOR",
            "SPLICE_SITE_DONOR",
            "SPLICE_SITE_REGION",
            "splice_region",
            "splice_acceptor",
            "splice_donor",
        ],
        "splice_region",
    ),
    **dict.fromkeys(["intron_variant", "conserved_intron_variant", "INTRON", "intron"], "intron"),
    **dict.fromkeys(
        ["upstream_gene_variant", "UPSTREAM", "2KB_upstream_variant", "upstream"], "upstream"
    ),
    **dict.fromkeys(
        ["downstream_gene_variant", "DOWNSTREAM", "500B_downstream_variant", "downstream"],
        "downstream",
    ),
    **dict.fromkeys(
        ["intergenic_variant", "intergenic_region", "INTERGENIC", "intergenic"], "intergenic"
    ),
}
PICK_TOOL = "VEP --pick"


def term_class(terms: list[str]) -> str | None:
    """The highest-precedence GAS class among a consequence's terms (None if none maps)."""
    found = [TERM_CLASS[t] for t in terms if t in TERM_CLASS]
    return min(found, key=RANK.__getitem__) if found else None


@dataclass
class Call:
    """What one tool says about one ALT allele: genes named, and the class per consequence."""

    genes: set[str] = field(default_factory=set)
    classes: list[str] = field(default_factory=list)

    @property
    def region(self) -> str | None:
        return min(self.classes, key=RANK.__getitem__) if self.classes else None


def _info(text: str) -> dict[str, str]:
    out = {}
    for kv in text.split(";"):
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def _vep_alleles(ref: str, alts: list[str]) -> list[str]:
    """VEP's Allele column: the ALT less the first base when all alleles share it ('-' if empty)."""
    shared = all(a and ref and a[0] == ref[0] for a in alts)
    if shared and (any(len(a) != len(ref) for a in alts) or len(ref) > 1):
        return [a[1:] or "-" for a in alts]
    return list(alts)


def _formats(header: list[str]) -> dict[str, list[str]]:
    out = {}
    for line in header:
        m = re.match(r'##INFO=<ID=(CSQ|ANN),.*Format: ?\'?([^"\']+)', line)
        if m:
            out[m.group(1)] = [f.strip() for f in m.group(2).split("|")]
    return out


def truth_calls(
    info: dict[str, str], ref: str, alts: list[str], fmt: dict[str, list[str]], tool_of: dict
) -> dict[str, list[Call | None]]:
    """Per tool, one Call per ALT allele (None where the tool's text cannot be tied to it)."""
    n = len(alts)
    made: dict[str, list[Call]] = {}
    vep_alleles = _vep_alleles(ref, alts)

    def slot(tool: str, allele_index: int | None) -> list[Call]:
        calls = made.setdefault(tool, [Call() for _ in range(n)])
        if allele_index is None:
            return calls if n == 1 else []
        return [calls[allele_index]] if 0 <= allele_index < n else []

    if "CSQ" in info and "CSQ" in fmt:
        cols = fmt["CSQ"]
        tool = tool_of.get("CSQ", "VEP")
        for block in info["CSQ"].split(","):
            v = dict(zip(cols, block.split("|"), strict=False))
            idx = None
            if v.get("ALLELE_NUM", "").isdigit():
                idx = int(v["ALLELE_NUM"]) - 1
            elif v.get("Allele"):
                a = v["Allele"]
                idx = (
                    vep_alleles.index(a)
                    if a in vep_alleles
                    else (alts.index(a) if a in alts else None)
                )
            for c in slot(tool, idx):
                if v.get("SYMBOL"):
                    c.genes.add(v["SYMBOL"])
                k = term_class(v.get("Consequence", "").split("&"))
                if k:
                    c.classes.append(k)
    if "ANN" in info:
        for block in info["ANN"].split(","):
            p = block.split("|")
            if len(p) < 4:
                continue
            idx = alts.index(p[0]) if p[0] in alts else None
            for c in slot("SnpEff", idx):
                if p[3] and p[1] != "intergenic_region":  # intergenic names "LEFT-RIGHT"
                    c.genes.update(p[3].split("&"))
                k = term_class(p[1].split("&"))
                if k:
                    c.classes.append(k)
    if "EFF" in info:
        for block in info["EFF"].split(","):
            m = re.match(r"([A-Z0-9_+]+)\((.*)\)", block)
            if not m:
                continue
            p = m.group(2).split("|")
            for c in slot("SnpEff", None):
                if len(p) > 5 and p[5]:
                    c.genes.add(p[5])
                k = term_class(m.group(1).split("+"))
                if k:
                    c.classes.append(k)
    if "BCSQ" in info:
        for block in info["BCSQ"].split(","):
            if block.startswith("@"):
                continue
            p = block.lstrip("*").split("|")
            for c in slot("bcftools csq", None):
                if len(p) > 1 and p[1]:
                    c.genes.add(p[1])
                k = term_class(p[0].split("&"))
                if k:
                    c.classes.append(k)
    if "GENEINFO" in info:
        for c in slot("ClinVar", None):
            c.genes.update(g.split(":")[0] for g in info["GENEINFO"].split("|") if g)
            for mc in info.get("MC", "").split(","):
                k = term_class([mc.split("|")[-1]]) if mc else None
                if k:
                    c.classes.append(k)
    return {
        tool: [c if (c.genes or c.classes) else None for c in calls] for tool, calls in made.items()
    }


def _trimmed_span(pos: int, ref: str, alt: str) -> tuple[int, int]:
    """0-based [start, end) GAS looks up for an allele (shared prefix, then suffix, trimmed)."""
    if alt.startswith("<") or "[" in alt or "]" in alt or alt in ("*", ".") or not alt:
        return pos - 1, pos - 1 + len(ref)
    r, a = ref.upper(), alt.upper()
    k = 0
    while k < min(len(r), len(a)) and r[k] == a[k]:
        k += 1
    s = 0
    while s < min(len(r), len(a)) - k and r[-1 - s] == a[-1 - s]:
        s += 1
    start, end = pos - 1 + k, pos - 1 + len(r) - s
    if end <= start:
        anchor = pos - 1 + max(k - 1, 0)
        return anchor, anchor + 1
    return start, end


class FlankOracle:
    """Brute-force up/downstream from the bundle's gene table, to count precedence breaks."""

    def __init__(self, bundle):
        g = bundle.genes.to_pydict()
        self.flank = bundle.flank_bp
        self.by_contig: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
        for c, s, e, st, name in zip(
            g["contig"], g["start"], g["end"], g["strand"], g["gene_name"], strict=True
        ):
            self.by_contig[c].append((s, e, st, name))

    def classes(self, contig: str, start: int, end: int) -> set[str]:
        """Which of genic/upstream/downstream some gene gives the span [start, end)."""
        out = set()
        f = self.flank
        for s, e, strand, _ in self.by_contig.get(canonical_contig(contig), []):
            if s < end and start < e:
                out.add("genic")
                continue
            if e <= start and start - e < f:  # gene to the left: its end is 3' on +, 5' on -
                out.add("upstream" if strand == "-" else "downstream")
            elif end <= s and s - end < f:
                out.add("upstream" if strand == "+" else "downstream")
        return out


def precedence_break(gas_region: str, oracle: set[str]) -> bool:
    """GAS names a flank or intergenic class while a higher one is available in its own genes."""
    if gas_region == "intergenic":
        return bool(oracle & {"genic", "upstream", "downstream"})
    if gas_region == "downstream":
        return bool(oracle & {"genic", "upstream"})
    if gas_region == "upstream":
        return "genic" in oracle
    return False


@dataclass
class Tally:
    """Counts for one file or one build."""

    alleles: int = 0
    gene: Counter = field(default_factory=Counter)  # tool → [agree, total] as two counters
    gene_n: Counter = field(default_factory=Counter)
    region: Counter = field(default_factory=Counter)
    region_n: Counter = field(default_factory=Counter)
    agreed: int = 0
    agreed_ok: int = 0
    asked_ok: int = 0  # GAS's answer to the question the file's tools asked (picked or any gene)
    confusion: Counter = field(default_factory=Counter)
    pick: int = 0
    pick_ok: int = 0
    pick_gene_ok: int = 0
    breaks: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.alleles += other.alleles
        for a, b in (
            (self.gene, other.gene),
            (self.gene_n, other.gene_n),
            (self.region, other.region),
            (self.region_n, other.region_n),
            (self.confusion, other.confusion),
        ):
            a.update(b)
        self.agreed += other.agreed
        self.agreed_ok += other.agreed_ok
        self.asked_ok += other.asked_ok
        self.pick += other.pick
        self.pick_ok += other.pick_ok
        self.pick_gene_ok += other.pick_gene_ok
        self.breaks += other.breaks
        self.misses += other.misses


def _pct(a: int, n: int) -> str:
    return f"{100 * a / n:.1f}% ({a}/{n})" if n else "n/a"


def compare_file(
    path: Path, out_vcf: Path, oracle: FlankOracle, file_tools: dict, picked: bool = False
) -> Tally:
    """Per ALT allele of one truth file: GAS's output against every truth tool in it."""
    t = Tally()
    with gzip.open(path, "rt") if path.name.endswith(".gz") else open(path) as f:
        lines = f.read().splitlines()
    header = [ln for ln in lines if ln.startswith("##")]
    fmt = _formats(header)
    records = [ln for ln in lines if ln and not ln.startswith("#")]
    gas_records = [ln for ln in out_vcf.read_text().splitlines() if ln and not ln.startswith("#")]
    for rec, gas in zip(records, gas_records, strict=True):
        c = rec.split("\t")
        g = _info(gas.split("\t")[7])
        alts = c[4].split(",")
        calls = truth_calls(_info(c[7]), c[3], alts, fmt, file_tools)
        regions = g.get("GAS_REGION", "").split(",")
        genes = g.get("GAS_GENE", "").split(",") if "GAS_GENE" in g else ["."] * len(alts)
        picks = g.get("GAS_PICK_REGION", "").split(",") if "GAS_PICK_REGION" in g else None
        pick_genes = g.get("GAS_PICK_GENE", "").split(",") if "GAS_PICK_GENE" in g else None
        for i, alt in enumerate(alts):
            t.alleles += 1
            region = regions[i] if i < len(regions) else ""
            gas_genes = set(genes[i].split("|")) - {"."} if i < len(genes) else set()
            where = f"{path.name} {c[0]}:{c[1]} {c[3]}>{alt}"
            per_tool = {}
            for tool, cs in calls.items():
                call = cs[i]
                if call is None:
                    continue
                if call.genes:
                    t.gene_n[tool] += 1
                    t.gene[tool] += bool(call.genes & gas_genes)
                if call.region:
                    per_tool[tool] = call.region
                    t.region_n[tool] += 1
                    t.region[tool] += call.region == region
            said = list(per_tool.values())
            if len(said) >= 2 and len(set(said)) == 1:
                t.agreed += 1
                t.agreed_ok += said[0] == region
                # One-transcript tools (VEP --pick, SnpEff on MANE) are answered by the pick.
                answer = picks[i] if picked and picks is not None else region
                t.asked_ok += said[0] == answer
                t.confusion[(said[0], answer)] += 1
                if said[0] != answer:
                    t.misses.append(f"{where}: tools {said[0]}, GAS {answer} ({genes[i]})")
            vep = calls.get(PICK_TOOL, [None] * len(alts))[i]
            if vep is not None and vep.region and picks is not None:
                t.pick += 1
                t.pick_ok += picks[i] == vep.region
                t.pick_gene_ok += bool(pick_genes and pick_genes[i] in vep.genes)
            if region in ("upstream", "downstream", "intergenic"):
                s, e = _trimmed_span(int(c[1]), c[3], alt)
                if precedence_break(region, oracle.classes(c[0], s, e)):
                    t.breaks += 1
                    t.misses.append(f"{where}: precedence break, GAS {region}")
    return t


def report(name: str, t: Tally, show: int) -> None:
    print(f"\n## {name}: {t.alleles} ALT alleles")
    for tool in sorted(t.region_n | t.gene_n):
        print(
            f"  {tool:14s} gene {_pct(t.gene[tool], t.gene_n[tool]):22s} "
            f"region {_pct(t.region[tool], t.region_n[tool])}"
        )
    print(
        f"  where two tools agree: {_pct(t.asked_ok, t.agreed)} "
        f"(GAS_REGION, any gene: {_pct(t.agreed_ok, t.agreed)})"
    )
    if t.pick:
        print(
            f"  picked transcript vs {PICK_TOOL}: region {_pct(t.pick_ok, t.pick)}, "
            f"gene {_pct(t.pick_gene_ok, t.pick)}"
        )
    print(f"  breaks of GAS's own precedence: {t.breaks}")
    if t.confusion:
        used = sorted({k for pair in t.confusion for k in pair}, key=RANK.__getitem__)
        print("  confusion (rows: the agreeing tools, columns: GAS's answer to their question)")
        print("    " + " " * 14 + "".join(f"{u[:10]:>11s}" for u in used))
        for row in used:
            cells = "".join(f"{t.confusion[(row, col)] or '.':>11}" for col in used)
            print(f"    {row:14s}{cells}")
    for line in t.misses[:show]:
        print(f"    - {line}")


def _read_vcf(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt") if path.name.endswith(".gz") else open(path) as f:
        lines = f.read().splitlines()
    header = [ln for ln in lines if ln.startswith("##")]
    return header, [ln.split("\t") for ln in lines if ln and not ln.startswith("#")]


def truth_tx_calls(
    info: dict[str, str], ref: str, alts: list[str], fmt: dict, worst_only: bool = False
) -> dict:
    """Per truth tool its per-transcript calls on one record: VEP's CSQ, SnpEff's ANN or EFF."""
    out: dict[str, list[TxCall]] = {}
    if "CSQ" in info and "CSQ" in fmt:
        out["VEP"] = csq_calls(info["CSQ"], fmt["CSQ"], ref, alts, worst_only)
    if "ANN" in info:
        out["SnpEff"] = ann_calls(info["ANN"], ref, alts)
    elif "EFF" in info:
        out["SnpEff"] = eff_calls(info["EFF"], alts)
    return {k: v for k, v in out.items() if v}


def truth_sequence(paths: list[Path], bundle) -> TruthSequence:
    """What the truth files know of the genome: every record's REF, and each VEP block's
    reference codon where the bundle's transcripts of its gene put it."""
    seq = TruthSequence()
    placer = CodonPlacer(bundle)
    for path in paths:
        header, records = _read_vcf(path)
        fmt = header_formats(header)
        for c in records:
            contig = canonical_contig(c[0])
            pos, ref, alts = int(c[1]), c[3], c[4].split(",")
            if not re.fullmatch(r"[ACGTNacgtn]+", ref):
                continue
            for k, base in enumerate(ref):
                seq.put(contig, pos - 1 + k, base)
            info = _info(c[7])
            if "CSQ" in info and "CSQ" in fmt:
                for call in csq_calls(info["CSQ"], fmt["CSQ"], ref, alts):
                    if call.codons and call.coding_term:
                        placer.place(seq, contig, pos, ref, alts[call.allele], call)
    return seq


def sequence_reference(build: str, fasta: Path, reference_dir: Path, tmp: Path) -> Path | None:
    """A temporary reference directory holding a copy of the build's bundle with ``fasta`` added
    by `gas reference add-sequence` (None when this checkout has no such command)."""
    out = tmp / "reference-with-sequence"
    shutil.copytree(reference_dir / build, out / build)
    gas = str(Path(sys.executable).with_name("gas"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAS_REFERENCE_DIR": str(out)}
    if subprocess.run([gas, "reference", "add-sequence", "--help"], capture_output=True,
                      env=env).returncode:  # fmt: skip
        return None
    subprocess.run([gas, "reference", "add-sequence", "--build", build, str(fasta)], check=True,
                   env=env, stdout=subprocess.DEVNULL)  # fmt: skip
    return out


def compare_consequences(
    path: Path, out_vcf: Path, held: set | None
) -> tuple[dict[str, ConsequenceTally], bool]:
    """Per truth tool, GAS_CSQ against its per-transcript calls; and whether GAS wrote GAS_CSQ.
    ``held``: (contig, POS, allele) whose codon the offline sequence holds."""
    header, records = _read_vcf(path)
    fmt = header_formats(header)
    # vcf2maf's MAF keeps one term per transcript (its CSQ says it was re-encoded from it).
    worst_only = any(h.startswith("##INFO=<ID=CSQ") and "all_effects" in h for h in header)
    gas_header, gas_records = _read_vcf(out_vcf)
    gas_fmt = header_formats(gas_header).get("GAS_CSQ")
    tallies: dict[str, ConsequenceTally] = {}
    if gas_fmt is None:
        return tallies, False
    for c, g in zip(records, gas_records, strict=True):
        alts = c[4].split(",")
        calls = truth_tx_calls(_info(c[7]), c[3], alts, fmt, worst_only)
        gas_info = _info(g[7])
        gas = csq_calls(gas_info["GAS_CSQ"], gas_fmt, c[3], alts) if "GAS_CSQ" in gas_info else []
        contig, pos = canonical_contig(c[0]), int(c[1])
        here = None if held is None else {a for (hc, hp, a) in held if hc == contig and hp == pos}
        for tool, truth in calls.items():
            t = tallies.setdefault(tool, ConsequenceTally())
            where = f"{path.name} {c[0]}:{c[1]} {c[3]}"
            unknown = NOT_IN_VOCABULARY.get(tool, frozenset())
            tally_record(t, where, c[3], alts, truth, gas, here, unknown)
    return tallies, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, default=REPO.parent / "shared" / "truth")
    parser.add_argument("--reference-dir", type=Path, default=None)
    parser.add_argument("--show", type=int, default=0, help="list N disagreements per build")
    parser.add_argument("--no-sequence", action="store_true", help="coordinates only")
    args = parser.parse_args(argv)
    manifest = args.truth / "manifest.json"
    if not manifest.exists():
        print(f"no truth files at {args.truth} (manifest.json missing)", file=sys.stderr)
        return 2
    if args.reference_dir is None:
        from gas.settings import Settings

        args.reference_dir = Settings.from_env().reference_dir
    entries = json.loads(manifest.read_text())
    builds: dict[str, Tally] = {}
    oracles = {}
    with tempfile.TemporaryDirectory(prefix="gas-fidelity-") as tmp:
        for entry in entries:
            path = args.truth / entry["file"]
            build = entry["build"]
            if build not in oracles:
                oracles[build] = FlankOracle(load_bundle(args.reference_dir, build))
            out = Path(tmp) / (path.name + ".gas.vcf")
            annotate_file(
                path,
                out,
                Path(tmp) / "log",
                Path(tmp) / "summary.json",
                build=build,
                reference_dir=args.reference_dir,
            )
            # VarLens ran VEP with --pick: its CSQ is the picked figure's reference.
            # Both its tools report one transcript (VEP --pick, SnpEff on MANE only).
            picked = "--pick" in entry.get("tool", "") or "varlens" in entry["file"]
            tools = {"CSQ": PICK_TOOL} if picked else {}
            t = compare_file(path, out, oracles[build], tools, picked)
            report(entry["file"], t, 0)
            builds.setdefault(build, Tally()).add(t)
        for build, t in builds.items():
            report(f"{build} (all files)", t, args.show)
        consequences(args, entries, Path(tmp))
    return 0


def consequences(args, entries: list[dict], tmp: Path) -> None:
    """The consequence figures per build: coordinates only, then with the offline sequence."""
    by_build: dict[str, list[dict]] = {}
    for entry in entries:
        by_build.setdefault(entry["build"], []).append(entry)
    for build, items in by_build.items():
        paths = [args.truth / e["file"] for e in items]
        # Every transcript gets a block (`--transcripts all`), so each truth transcript can be
        # tied to GAS's (the default, one per gene, would leave most of VEP's untied).
        outs = {}
        for entry, path in zip(items, paths, strict=True):
            out = tmp / (path.name + ".all.vcf")
            annotate_file(path, out, tmp / "log", tmp / "summary.json", build=build,
                          reference_dir=args.reference_dir, transcripts="all")  # fmt: skip
            outs[entry["file"]] = out
        modes: dict[str, tuple[dict[str, Path], set | None]] = {"coordinates only": (outs, None)}
        if not args.no_sequence:
            seq = truth_sequence(paths, load_bundle(args.reference_dir, build))
            fasta = tmp / f"truth_{build}.fa"
            lengths = seq.write_fasta(fasta)
            known = sum(len(v) for v in seq.bases.values())
            print(
                f"\n{build}: offline sequence {known:,} bases on {len(lengths)} contigs "
                f"({len(seq.held)} codons placed, {len(seq.conflicts)} conflicting bases set to N; "
                f"not placed: {dict(seq.unplaced) or 'none'})"
            )
            ref_dir = sequence_reference(build, fasta, args.reference_dir, tmp / build)
            if ref_dir is None:
                print(
                    "  `gas reference add-sequence` is not in this checkout: no with-sequence run"
                )
            else:
                outs = {}
                for entry, path in zip(items, paths, strict=True):
                    out = tmp / build / (path.name + ".seq.vcf")
                    annotate_file(path, out, tmp / "log", tmp / "summary.json", build=build,
                                  reference_dir=ref_dir, transcripts="all")  # fmt: skip
                    outs[entry["file"]] = out
                modes["with sequence"] = (outs, seq.held)
        for mode, (outs, held) in modes.items():
            per_tool: dict[str, ConsequenceTally] = {}
            written = True
            for entry, path in zip(items, paths, strict=True):
                tallies, written = compare_consequences(path, outs[entry["file"]], held)
                if not written:
                    break
                for tool, t in tallies.items():
                    per_tool.setdefault(tool, ConsequenceTally()).add(t)
            print(f"\n## {build}, {mode}: consequences")
            if not written:
                print("  GAS's output has no GAS_CSQ (the consequence engine is not in this "
                      "checkout): nothing to compare")  # fmt: skip
                continue
            for tool, t in sorted(per_tool.items()):
                print("\n".join(report_lines(tool, t, args.show)))


if __name__ == "__main__":
    sys.exit(main())
