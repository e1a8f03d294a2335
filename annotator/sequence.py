"""The reference sequence a bundle may hold: the bases consequence calling reads (codons, splice
sites, the REF check, HGVS 3′ shifting), added from a FASTA with `gas reference add-sequence`.

Kept as the whole of every contig the bundle has, 2 bits a base (A=0, C=1, G=2, T=3; four bases a
byte, the first in the low bits; each contig starts on a byte), memory-mapped. Every base that is
not A, C, G or T (the N gaps, IUPAC codes) is kept as a run ``[start, end)`` of one letter. Bases
are upper case: soft-masked (lower-case) input is upper-cased. GRCh38's 24 chromosomes and MT take
736 MiB; why whole contigs and 2 bits is in docs/annotator.md ("Reference sequence").

Positions are bundle keys (``contig_index << 32 | pos0``); a base the sequence does not hold (a
contig not added, past a contig's end, a negative position) reads ``N``.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np

from annotator.bundle import SEQUENCE_DIR, Bundle, canonical_contig
from annotator.exceptions import ReferenceBuildError, ReferenceUnavailable

SEQUENCE_FORMAT = "gas-reference-sequence"
SEQUENCE_FORMAT_VERSION = 1
BASES_FILE = "bases.2bit"
OTHER_FILE = "other.npy"  # int64 (3, k): [start, end) in packed-base offsets, and the letter
META_FILE = "sequence.json"
N = ord("N")
CHUNK = 16 << 20  # bases encoded at a time: memory stays flat whatever the contig
BLOCK_SHIFT = 16  # other-letter runs are looked up only in the 64 kb blocks that have one

# The human mitochondrial genome (rCRS, 16,569 bp) as Debian's minimap2 package ships it.
RCRS_FASTA = Path("/usr/share/doc/minimap2/test/MT-human.fa.gz")
RCRS_RECORD = "MT_human"
RCRS_LENGTH = 16569
RCRS_SOURCE = "Debian package minimap2, /usr/share/doc/minimap2/test/MT-human.fa.gz (rCRS)"

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# byte -> upper-case letter (0 for anything that is not a letter)
_UPPER = np.zeros(256, np.uint8)
for _c in range(ord("A"), ord("Z") + 1):
    _UPPER[_c] = _UPPER[_c + 32] = _c
# upper-case letter -> 2-bit code, 4 for any other letter
_CODE = np.full(256, 4, np.uint8)
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _i
# (byte << 2 | base within the byte) -> letter
_DECODE = np.frombuffer(b"ACGT", np.uint8)[
    (np.arange(1024) >> 2 >> ((np.arange(1024) & 3) * 2)) & 3
]
_DECODE_ROWS = _DECODE.reshape(256, 4)
_WHITESPACE = b" \t\r\n\v\f"


class ReferenceSequence:
    """A bundle's sequence, read-only and memory-mapped: safe for any number of reader threads."""

    def __init__(self, path: Path, contigs: list[str]):
        self.path = Path(path)
        try:
            self.meta = json.loads((self.path / META_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise ReferenceUnavailable(
                f"the reference sequence at {self.path} is damaged: {exc}"
            ) from exc
        if (
            self.meta.get("format") != SEQUENCE_FORMAT
            or self.meta.get("format_version") != SEQUENCE_FORMAT_VERSION
        ):
            raise ReferenceUnavailable(
                f"the reference sequence at {self.path} has format "
                f"{self.meta.get('format')} {self.meta.get('format_version')}, this annotator "
                f"reads {SEQUENCE_FORMAT} {SEQUENCE_FORMAT_VERSION}; add it again with "
                "`gas reference add-sequence`"
            )
        held: dict[str, dict] = self.meta["contigs"]
        try:
            size = (self.path / BASES_FILE).stat().st_size
            # A plain ndarray over the map (np.memmap's subclass is slower to index).
            self._packed = (
                np.asarray(np.memmap(self.path / BASES_FILE, np.uint8, mode="r"))
                if size
                else np.zeros(0, np.uint8)
            )
            other = np.asarray(np.load(self.path / OTHER_FILE, mmap_mode="r"))
        except (OSError, ValueError) as exc:
            raise ReferenceUnavailable(
                f"the reference sequence at {self.path} is damaged: {exc}"
            ) from exc
        self.contigs = list(contigs)
        n = len(contigs)
        # One more row, length 0, for keys whose contig index is out of range.
        self._base = np.zeros(n + 1, np.int64)
        self._length = np.zeros(n + 1, np.int64)
        for i, name in enumerate(contigs):
            if name in held:
                self._base[i] = held[name]["offset"]
                self._length[i] = held[name]["length"]
        if ((self._base + self._length + 3) // 4 > len(self._packed)).any():
            raise ReferenceUnavailable(f"the reference sequence at {self.path} is damaged")
        self._other_start = np.ascontiguousarray(other[0])
        self._other_end = np.ascontiguousarray(other[1])
        self._other_letter = other[2].astype(np.uint8)
        blocks = (len(self._packed) * 4 >> BLOCK_SHIFT) + 1
        flag = np.zeros(blocks + 1, np.int64)
        np.add.at(flag, self._other_start >> BLOCK_SHIFT, 1)
        np.add.at(flag, ((self._other_end - 1) >> BLOCK_SHIFT) + 1, -1)
        self._other_block = np.cumsum(flag)[:blocks] > 0

    @property
    def contigs_held(self) -> list[str]:
        """The bundle's contigs this sequence holds, in bundle order."""
        return [c for i, c in enumerate(self.contigs) if self._length[i] > 0]

    def length(self, contig_index: int) -> int:
        """Bases held for a contig (0 when it has none)."""
        return int(self._length[contig_index]) if 0 <= contig_index < len(self.contigs) else 0

    def bases(self, keys: np.ndarray) -> np.ndarray:
        """The upper-case ASCII base at each key (``contig_index << 32 | pos0``), ``N`` where the
        sequence holds none."""
        keys = np.asarray(keys, np.int64)
        if keys.ndim != 1:
            return self.bases(keys.reshape(-1)).reshape(keys.shape)
        n = len(self.contigs)
        ci = keys >> 32
        pos = keys & 0xFFFFFFFF
        bad = (ci < 0) | (ci >= n)
        if bad.any():
            ci = np.where(bad, n, ci)
        held = pos < self._length[ci]
        g = self._base[ci]
        g += pos
        every = bool(held.all())
        if not every:
            g[~held] = 0
        if len(self._packed) == 0:
            return np.full(len(keys), N, np.uint8)
        byte = self._packed[g >> 2].astype(np.intp)
        byte <<= 2
        byte |= g & 3
        out = _DECODE[byte]
        if len(self._other_start):
            flagged = self._other_block[g >> BLOCK_SHIFT]
            if not every:
                flagged &= held
            idx = np.flatnonzero(flagged)
            if len(idx):
                at = g[idx]
                j = np.searchsorted(self._other_start, at, side="right") - 1
                inside = (j >= 0) & (at < self._other_end[np.maximum(j, 0)])
                out[idx[inside]] = self._other_letter[j[inside]]
        if not every:
            out[~held] = N
        return out

    def fetch(self, contig_index: int, start: int, end: int) -> bytes:
        """Bases ``[start, end)`` (0-based) of a contig, upper-case ASCII, ``N`` where not held."""
        start, end = int(start), int(end)
        if end <= start:
            return b""
        out = np.full(end - start, N, np.uint8)
        length = self.length(contig_index)
        lo, hi = max(start, 0), min(end, length)
        if hi > lo:
            base = int(self._base[contig_index])
            g0, g1 = base + lo, base + hi
            b0 = g0 >> 2
            letters = _DECODE_ROWS[self._packed[b0 : (g1 + 3) >> 2]].reshape(-1)
            seg = out[lo - start : hi - start]
            seg[:] = letters[g0 - 4 * b0 : g1 - 4 * b0]
            i = int(np.searchsorted(self._other_end, g0, side="right"))
            while i < len(self._other_start) and self._other_start[i] < g1:
                a = max(int(self._other_start[i]), g0) - g0
                z = min(int(self._other_end[i]), g1) - g0
                seg[a:z] = self._other_letter[i]
                i += 1
        return out.tobytes()

    def describe(self) -> dict:
        """What is held, for the bundle manifest and `gas reference list`."""
        held = self.meta["contigs"]
        on_disk = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        return {
            "format_version": SEQUENCE_FORMAT_VERSION,
            "encoding": "2-bit",
            "contigs": sorted(held, key=lambda c: self.meta["order"].index(c)),
            "bases": int(sum(c["length"] for c in held.values())),
            "bytes_on_disk": int(on_disk),
            "sources": self.meta["sources"],
            "added_at": self.meta["added_at"],
        }


def load_sequence(bundle: Bundle) -> ReferenceSequence | None:
    """The bundle's reference sequence, or None when none was added."""
    path = bundle.path / SEQUENCE_DIR
    for _ in range(5):
        if not (path / META_FILE).exists():
            if not any(bundle.path.glob(f".{SEQUENCE_DIR}.old.*")):
                return None
            time.sleep(0.05)  # between the two renames of a swap
            continue
        try:
            seq = ReferenceSequence(path, bundle.contigs)
            # `add-sequence` swaps the directory with renames: files read across a swap would
            # mix two sequences, so the description read first must still be the one there.
            if json.loads((path / META_FILE).read_text()) == seq.meta:
                return seq
        except (ReferenceUnavailable, OSError, ValueError):
            pass
        time.sleep(0.05)
    return ReferenceSequence(path, bundle.contigs) if (path / META_FILE).exists() else None


def describe_sequence(bundle_dir: Path) -> dict | None:
    """``ReferenceSequence.describe()`` for a bundle directory, without loading the bundle."""
    path = Path(bundle_dir) / SEQUENCE_DIR
    if not (path / META_FILE).exists():
        return None
    meta = json.loads((path / META_FILE).read_text())
    return ReferenceSequence(path, list(meta["contigs"])).describe()


# --------------------------------------------------------------------------- reading a FASTA


class _HashingReader:
    """A file read through, hashing every byte (the FASTA's SHA-256 as a user would compute it)."""

    def __init__(self, raw):
        self.raw = raw
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha.update(data)
        return data

    def readable(self) -> bool:
        return True


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            sha.update(block)
    return sha.hexdigest()


def _open_indexed(path: Path):
    """A pysam.FastaFile when the FASTA has its index (a .fai, and a .gzi when compressed) and
    pysam reads it; else None (then it is read from start to end)."""
    if not Path(f"{path}.fai").exists():
        return None
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if gz and not Path(f"{path}.gzi").exists():
        return None
    import pysam

    try:
        return pysam.FastaFile(str(path))
    except (OSError, ValueError):
        return None  # e.g. plain gzip beside a .fai: streamed instead


# A FASTA is read as events: ("record", name) at each header; ("start", name) when its sequence
# is wanted, then ("data", bytes) chunks of it (whitespace removed, case as in the file).
Wanted = Callable[[str, "int | None"], bool]


def _records_indexed(fa, path: Path, wanted: Wanted, digest: dict) -> Iterator[tuple[str, object]]:
    """The events, through pysam and the index: only wanted records are read."""
    digest["sha256"] = _sha256(path)
    with fa:
        for name, length in zip(fa.references, fa.lengths, strict=True):
            yield "record", name
            if wanted(name, length):
                yield "start", name
                for s in range(0, length, CHUNK):
                    try:
                        data = fa.fetch(name, s, min(s + CHUNK, length)).encode("ascii")
                    except (OSError, ValueError) as exc:  # e.g. a .fai of another file
                        raise ReferenceBuildError(
                            f"{path.name} could not be read through its index: {exc}"
                        ) from exc
                    yield "data", data


def _records_streamed(path: Path, wanted: Wanted, digest: dict) -> Iterator[tuple[str, object]]:
    """The events, reading a plain or gzip (or bgzip) FASTA from start to end."""
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        reader = _HashingReader(raw)
        f = gzip.GzipFile(fileobj=cast(BinaryIO, reader)) if gz else reader
        name: str | None = None
        take = False
        header = b""
        in_header = False
        try:
            while block := f.read(CHUNK):
                pos = 0
                while pos < len(block):
                    if in_header:
                        nl = block.find(b"\n", pos)
                        if nl < 0:
                            header += block[pos:]
                            break
                        header += block[pos:nl]
                        pos, in_header = nl + 1, False
                        name = _record_name(header, path)
                        header = b""
                        yield "record", name
                        take = wanted(name, None)
                        if take:
                            yield "start", name
                        continue
                    gt = block.find(b">", pos)
                    end = len(block) if gt < 0 else gt
                    if name is None:
                        if block[pos:end].strip():
                            raise ReferenceBuildError(
                                f"{path.name} is not a FASTA file (no '>' header before its "
                                "first sequence line)"
                            )
                    elif take and end > pos:
                        data = block[pos:end].translate(None, _WHITESPACE)
                        if data:
                            yield "data", data
                    pos = end
                    if gt >= 0:
                        pos, in_header = gt + 1, True
        except (OSError, EOFError, zlib.error) as exc:
            raise ReferenceBuildError(f"{path.name} could not be read: {exc}") from exc
        if in_header:
            name = _record_name(header, path)
            yield "record", name
            if wanted(name, None):
                yield "start", name
        digest["sha256"] = reader.sha.hexdigest()


def _record_name(header: bytes, path: Path) -> str:
    words = header.split()
    if not words:
        raise ReferenceBuildError(f"{path.name} has a FASTA header without a name")
    return words[0].decode("utf-8", "replace")


# --------------------------------------------------------------------------- writing


class _ContigWriter:
    """Packs one contig's bases into the open bases file, chunk by chunk."""

    def __init__(self, out, offset: int, name: str, source: str):
        self.out = out
        self.offset = offset  # in bases, a multiple of 4
        self.name = name
        self.source = source
        self.n = 0
        # The MD5 of the upper-case bases: SAM's @SQ M5 and refget name a sequence by it.
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.rest = np.zeros(0, np.uint8)
        self.runs: list[np.ndarray] = []

    def feed(self, chunk: bytes) -> None:
        raw = np.frombuffer(chunk, np.uint8)
        up = _UPPER[raw]
        if not up.all():
            bad = chunk[int(np.argmin(up)) : int(np.argmin(up)) + 1]
            raise ReferenceBuildError(
                f"{self.source}: contig {self.name} holds {bad!r}, which is not a base letter "
                "(is this a FASTA file?)"
            )
        self.md5.update(up.tobytes())
        code = _CODE[up]
        other = np.flatnonzero(code == 4)
        if len(other):
            letters = up[other]
            cut = (np.diff(other) != 1) | (np.diff(letters) != 0)
            first = np.concatenate([[True], cut])
            last = np.concatenate([cut, [True]])
            at = self.offset + self.n
            self.runs.append(
                np.vstack([other[first] + at, other[last] + 1 + at, letters[first]]).astype(
                    np.int64
                )
            )
            code[other] = 0
        if len(self.rest):
            code = np.concatenate([self.rest, code])
        whole = len(code) // 4 * 4
        self.out.write(_pack(code[:whole]).tobytes())
        self.rest = code[whole:]
        self.n += len(raw)

    def close(self) -> tuple[int, str, np.ndarray]:
        """Write the last bases (padded to a byte); (length, MD5 of the bases, other runs)."""
        if len(self.rest):
            code = np.concatenate([self.rest, np.zeros(4 - len(self.rest), np.uint8)])
            self.out.write(_pack(code).tobytes())
        runs = np.hstack(self.runs) if self.runs else np.zeros((3, 0), np.int64)
        return self.n, self.md5.hexdigest(), _join_runs(runs)


def _pack(code: np.ndarray) -> np.ndarray:
    c = code.reshape(-1, 4)
    return c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6)


def _join_runs(runs: np.ndarray) -> np.ndarray:
    """Runs that touch and have the same letter (split by a chunk edge) become one."""
    if runs.shape[1] < 2:
        return runs
    new = np.ones(runs.shape[1], bool)
    new[1:] = (runs[0, 1:] != runs[1, :-1]) | (runs[2, 1:] != runs[2, :-1])
    group = np.cumsum(new) - 1
    ends = np.zeros(group[-1] + 1, np.int64)
    np.maximum.at(ends, group, runs[1])
    return np.vstack([runs[0, new], ends, runs[2, new]])


@dataclass
class AddResult:
    """What `add_sequence` did."""

    path: Path
    added: dict[str, int]  # contig (bundle name) -> bases
    skipped: dict[str, str]  # FASTA record -> why it was not added
    kept: list[str]  # contigs added before (from other files) and still held
    seconds: float
    described: dict = field(default_factory=dict)


def add_sequence(
    bundle_dir: Path,
    fasta: Path,
    rename: dict[str, str] | None = None,
    say: Say = _quiet,
    source_note: str | None = None,
    unless_held: str | None = None,
) -> AddResult | None:
    """Add a FASTA's contigs to the bundle's sequence (those the bundle has; the rest are skipped
    and reported), keeping contigs added before from other files. Written atomically. With
    ``unless_held``, nothing is done (None) when the sequence already holds that contig."""
    t0 = time.monotonic()
    bundle_dir, fasta = Path(bundle_dir), Path(fasta)
    if not fasta.is_file():
        raise ReferenceBuildError(f"{fasta} is not a file")
    if not (bundle_dir / "manifest.json").exists():
        raise ReferenceUnavailable(
            f"the {bundle_dir.name} reference bundle is not installed in {bundle_dir.parent}; "
            "install it first (`gas reference install-defaults` or `gas reference build`)"
        )
    bundle = Bundle(bundle_dir)
    build = bundle.build
    known = set(bundle.contigs)
    rename = rename or {}
    added_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def target(record: str) -> str:
        return canonical_contig(rename.get(record, record))

    skipped: dict[str, str] = {}
    added: dict[str, dict] = {}  # contig -> offset, length, md5, record, source
    runs: list[np.ndarray] = []

    def wanted(record: str, length: int | None) -> bool:
        contig = target(record)
        if contig not in known:
            skipped[record] = f"not a contig of the {build} bundle"
        elif contig in added or contig in busy:
            first = added[contig]["record"] if contig in added else busy[contig]
            skipped[record] = f"a second {contig} (the FASTA's {first} was used)"
        elif length is not None and (why := _length_check(record, contig, length, build)):
            skipped[record] = why
        else:
            return True
        return False

    busy: dict[str, str] = {}  # the contig being written -> its record
    with _locked(bundle_dir):
        for stale in bundle_dir.glob(f".{SEQUENCE_DIR}.*"):  # left by a writer that died
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        path = bundle_dir / SEQUENCE_DIR
        old = ReferenceSequence(path, []) if (path / META_FILE).exists() else None
        if unless_held is not None and old is not None and unless_held in old.meta["contigs"]:
            return None
        tmp = Path(tempfile.mkdtemp(prefix=f".{SEQUENCE_DIR}.", dir=bundle_dir))
        try:
            digest: dict = {}
            fa = _open_indexed(fasta)
            events = (
                _records_streamed(fasta, wanted, digest)
                if fa is None
                else _records_indexed(fa, fasta, wanted, digest)
            )
            with open(tmp / BASES_FILE, "wb") as out:
                writer: _ContigWriter | None = None

                def finish() -> None:
                    nonlocal writer
                    if writer is None:
                        return
                    w, writer = writer, None
                    busy.clear()
                    length, md5, contig_runs = w.close()
                    contig = target(w.name)
                    why = _length_check(w.name, contig, length, build)
                    if why:
                        # Known only at the end when streaming: drop what was written.
                        out.truncate(w.offset // 4)
                        out.seek(w.offset // 4)
                        skipped[w.name] = why
                        return
                    added[contig] = {
                        "offset": w.offset,
                        "length": length,
                        "md5": md5,
                        "record": w.name,
                        "source": fasta.name,
                    }
                    runs.append(contig_runs)

                for kind, value in events:
                    if kind == "record":
                        finish()
                    elif kind == "start":
                        assert isinstance(value, str)
                        busy[target(value)] = value
                        writer = _ContigWriter(out, out.tell() * 4, value, fasta.name)
                    else:
                        assert writer is not None and isinstance(value, bytes)
                        writer.feed(value)
                finish()
                if not added:
                    raise ReferenceBuildError(
                        f"none of the records of {fasta.name} is a contig of the {build} "
                        f"bundle ({', '.join(bundle.contigs[:30])})"
                        + (f"; records seen: {', '.join(list(skipped)[:10])}" if skipped else "")
                    )
                new = list(added)
                kept = [] if old is None else _copy_kept(old, out, added, runs)
            other = np.hstack(runs) if runs else np.zeros((3, 0), np.int64)
            np.save(tmp / OTHER_FILE, other[:, np.argsort(other[0], kind="stable")])
            source = {
                "file": fasta.name,
                "sha256": digest.get("sha256", ""),
                "bytes": fasta.stat().st_size,
                "contigs": new,
                "added_at": added_at,
            }
            if source_note:
                source["note"] = source_note
            sources = []
            for s in old.meta["sources"] if old is not None else []:
                s = {**s, "contigs": [c for c in s["contigs"] if c in kept]}
                if s["contigs"]:
                    sources.append(s)
            position = {c: i for i, c in enumerate(bundle.contigs)}
            meta = {
                "format": SEQUENCE_FORMAT,
                "format_version": SEQUENCE_FORMAT_VERSION,
                "build": build,
                "encoding": (
                    "2 bits a base, A=0 C=1 G=2 T=3, four bases a byte from the low bits; each "
                    "contig from a byte; other letters as runs in other.npy"
                ),
                "contigs": added,
                "order": sorted(added, key=lambda c: (position.get(c, len(position)), c)),
                "sources": [*sources, source],
                "added_at": added_at,
            }
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
            _swap_in(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        described = describe_sequence(bundle_dir) or {}
        _record_in_manifest(bundle_dir, described)
    say(
        f"{build}: sequence of {len(new)} contig(s) added from {fasta.name} "
        f"({sum(added[c]['length'] for c in new):,} bases)"
        + (f"; kept {len(kept)} added before" if kept else "")
    )
    return AddResult(
        path=path,
        added={c: added[c]["length"] for c in new},
        skipped=skipped,
        kept=kept,
        seconds=time.monotonic() - t0,
        described=described,
    )


def _length_check(record: str, contig: str, length: int, build: str) -> str | None:
    """Why a record is skipped for its length (None: it is not). A chromosome with another build's
    length, or longer than the build's, is refused: the FASTA is not this build. One shorter is
    taken (test FASTAs, excerpts; past its end reads N). An MT that is not the rCRS (hg19's
    16,571 bp chrM) is skipped."""
    from annotator.vcf import CONTIG_LENGTHS

    if contig == "MT":
        if length > RCRS_LENGTH or length == 16571:
            return f"{length:,} bp, not the rCRS ({RCRS_LENGTH:,} bp) the bundle's MT is"
        return None
    want = CONTIG_LENGTHS.get(build, {}).get(contig)
    if want is None or length == want:
        return None
    other = [
        b for b, lengths in CONTIG_LENGTHS.items() if b != build and lengths.get(contig) == length
    ]
    if other or length > want:
        raise ReferenceBuildError(
            f"this FASTA is not {build}: its {record} has {length:,} bases, {build}'s {contig} "
            f"has {want:,}" + (f" ({other[0]}'s has {length:,})" if other else "")
        )
    return None


def _copy_kept(
    old: ReferenceSequence, out, added: dict[str, dict], runs: list[np.ndarray]
) -> list[str]:
    """Append the old sequence's contigs that the new FASTA did not replace."""
    kept = []
    with open(old.path / BASES_FILE, "rb") as src:  # read, not through the map: flat memory
        for contig in old.meta["order"]:
            info = old.meta["contigs"][contig]
            if contig in added:
                continue
            offset = out.tell() * 4
            a, z = info["offset"] // 4, (info["offset"] + info["length"] + 3) // 4
            src.seek(a)
            while a < z:
                block = src.read(min(CHUNK, z - a))
                if not block:
                    raise ReferenceUnavailable(f"the reference sequence at {old.path} is damaged")
                out.write(block)
                a += len(block)
            lo = np.searchsorted(old._other_start, info["offset"], side="left")
            hi = np.searchsorted(old._other_start, info["offset"] + info["length"], side="left")
            shift = offset - info["offset"]
            runs.append(
                np.vstack(
                    [
                        old._other_start[lo:hi] + shift,
                        old._other_end[lo:hi] + shift,
                        old._other_letter[lo:hi].astype(np.int64),
                    ]
                )
            )
            added[contig] = {**info, "offset": offset}
            kept.append(contig)
    return kept


def _swap_in(tmp: Path, path: Path) -> None:
    """Put the new sequence directory in place of the old (a reader mapping the old files keeps
    them until it is done)."""
    if path.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{SEQUENCE_DIR}.old.", dir=path.parent))
        os.replace(path, aside / "old")
        os.replace(tmp, path)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, path)


def _record_in_manifest(bundle_dir: Path, described: dict) -> None:
    """The bundle manifest's ``sequence`` entry (read by `gas reference list`)."""
    path = bundle_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["sequence"] = described
    tmp = bundle_dir / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(bundle_dir: Path) -> Iterator[None]:
    """One writer of a bundle's sequence at a time (install-defaults runs in several places)."""
    with open(bundle_dir / ".sequence.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add_default_sequence(bundle_dir: Path, say: Say = _quiet, fasta: Path = RCRS_FASTA) -> bool:
    """Add the human mitochondrial genome (rCRS, from Debian's minimap2 package) to a bundle that
    has an MT contig but no MT sequence yet; False when there is nothing to do or no file."""
    bundle_dir = Path(bundle_dir)
    if not fasta.exists():
        return False
    held = describe_sequence(bundle_dir)
    if held is not None and "MT" in held["contigs"]:
        return False
    if "MT" not in json.loads((bundle_dir / "manifest.json").read_text()).get("contigs", []):
        return False
    done = add_sequence(
        bundle_dir,
        fasta,
        rename={RCRS_RECORD: "MT"},
        source_note=RCRS_SOURCE,
        unless_held="MT",  # another process may have added it meanwhile
    )
    if done is not None:
        say(
            f"{bundle_dir.name}: added the mitochondrial genome (rCRS, {RCRS_LENGTH:,} bp, from "
            "Debian's minimap2 package) as MT's sequence"
        )
    return done is not None
