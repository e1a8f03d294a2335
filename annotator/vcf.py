"""Reading the VCF researchers upload: opening (plain, gzip, bgzip), header and genome build.

The body is never parsed line by line in Python: ``read_chunks`` hands out blocks of whole lines and
``parse_chunk`` finds every field boundary at once with numpy.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from annotator.bundle import canonical_contig
from annotator.compiled import split_lines
from annotator.exceptions import (
    BuildMismatch,
    MalformedVcf,
    TruncatedInput,
    UnsupportedVcfVersion,
)

CHUNK_BYTES = 1 << 20  # bounded buffer; 1 MiB keeps a block's per-line arrays in cache
MAX_LINE_BYTES = 256 << 20
MAX_HEADER_LINES = 200_000

# Chromosome lengths that tell the builds apart (GRCh38, GRCh37); hg18/NCBI36 chr1 for a refusal.
CONTIG_LENGTHS = {
    "GRCh38": {
        "1": 248956422,
        "2": 242193529,
        "3": 198295559,
        "4": 190214555,
        "5": 181538259,
        "6": 170805979,
        "7": 159345973,
        "8": 145138636,
        "9": 138394717,
        "10": 133797422,
        "11": 135086622,
        "12": 133275309,
        "13": 114364328,
        "14": 107043718,
        "15": 101991189,
        "16": 90338345,
        "17": 83257441,
        "18": 80373285,
        "19": 58617616,
        "20": 64444167,
        "21": 46709983,
        "22": 50818468,
        "X": 156040895,
        "Y": 57227415,
    },
    "GRCh37": {
        "1": 249250621,
        "2": 243199373,
        "3": 198022430,
        "4": 191154276,
        "5": 180915260,
        "6": 171115067,
        "7": 159138663,
        "8": 146364022,
        "9": 141213431,
        "10": 135534747,
        "11": 135006516,
        "12": 133851895,
        "13": 115169878,
        "14": 107349540,
        "15": 102531392,
        "16": 90354753,
        "17": 81195210,
        "18": 78077248,
        "19": 59128983,
        "20": 63025520,
        "21": 48129895,
        "22": 51304566,
        "X": 155270560,
        "Y": 59373566,
    },
    "NCBI36": {"1": 247249719, "2": 242951149, "X": 154913754},
}
_EDGE = r"(?<![A-Za-z0-9])"
BUILD_TOKENS = {
    "GRCh38": re.compile(
        _EDGE + r"(grch38|hg38|hs38(dh)?|b38|gca_000001405\.(1[5-9]|2\d))(?![0-9])", re.I
    ),
    "GRCh37": re.compile(
        _EDGE + r"(grch37|hg19|hs37d5|hs37|b37|g1k_v37|ncbi37|gca_000001405\.1)(?![0-9])", re.I
    ),
    "NCBI36": re.compile(_EDGE + r"(ncbi36|hg18|b36|ncbi_build_36)(?![0-9])", re.I),
}


@dataclass
class Header:
    """The parsed header: its lines (not the #CHROM line), the columns, version, contig lengths."""

    lines: list[str]
    columns: list[str]
    version: str
    line_count: int  # header lines including #CHROM, so body line N is line_count + N
    contig_lengths: dict[str, int] = field(default_factory=dict)


@dataclass
class BuildEvidence:
    """What the header says about the genome build."""

    build: str | None
    evidence: str  # a short quote for the log, e.g. "##reference=GRCh37"


def open_input(path: Path) -> BinaryIO:
    """Open plain, gzip or bgzip input as a binary stream of the decompressed text."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # bgzip is multi-member gzip
    return open(path, "rb")


def read_stream(f: BinaryIO, n: int, lines_done: int) -> bytes:
    """``f.read(n)`` that turns decompression failures into the user's error."""
    try:
        return f.read(n)
    except EOFError:
        raise TruncatedInput(
            f"The compressed file is truncated: it ends abruptly after about line {lines_done}; "
            "please upload the complete file."
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise MalformedVcf(
            f"The compressed file is damaged near line {lines_done} and cannot be read ({exc})."
        ) from None


def _looks_binary(data: bytes) -> bool:
    if b"\x00" in data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(data) - 4  # a multi-byte character cut by the read is fine
    return False


def read_header(f: BinaryIO) -> tuple[Header, bytes]:
    """Read the header; return it and the body bytes already read past it."""
    buf = read_stream(f, 65536, 0)
    if not buf.strip():
        raise MalformedVcf("The file is empty: a VCF needs a header and at least the #CHROM line.")
    if _looks_binary(buf[:8192]):
        raise MalformedVcf(
            "The file is binary, not VCF text (or a compressed format other than gzip/bgzip)."
        )
    lines: list[str] = []
    pos = 0
    n = 0
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            more = read_stream(f, 65536, n)
            if not more:
                if pos < len(buf):
                    nl = len(buf)
                    buf += b"\n"
                else:
                    raise MalformedVcf(
                        f"The header has no #CHROM column line (the file ends after line {n})."
                    )
            else:
                buf = buf[pos:] + more
                pos = 0
                continue
        raw = buf[pos:nl]
        pos = nl + 1
        n += 1
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            line = raw.decode("latin-1").rstrip("\r")
            if "\x00" in line:
                raise MalformedVcf(
                    f"Line {n} contains binary data; this is not a VCF text file."
                ) from None
        if n == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark, as Windows editors save
            _check_version_line(line)
        if line.startswith("##"):
            lines.append(line)
        elif line.startswith("#"):
            columns = line[1:].split("\t")
            if len(columns) < 8 or [c.upper() for c in columns[:8]] != [
                "CHROM",
                "POS",
                "ID",
                "REF",
                "ALT",
                "QUAL",
                "FILTER",
                "INFO",
            ]:
                raise MalformedVcf(
                    f"Line {n} should be the tab-separated #CHROM POS ID REF ALT QUAL FILTER INFO "
                    f"header line, but has {len(columns)} column(s): {line[:80]!r}."
                )
            version = lines[0].split("=", 1)[1] if lines else "?"
            header = Header(lines, columns, version, n, _contig_lengths(lines))
            return header, buf[pos:]
        else:
            raise MalformedVcf(
                f"Line {n} is a data line, but the header's #CHROM line has not appeared yet."
            )
        if n > MAX_HEADER_LINES:
            raise MalformedVcf(
                f"The header is longer than {MAX_HEADER_LINES} lines; this is not a VCF."
            )


def _check_version_line(line: str) -> None:
    m = re.match(r"##fileformat=VCFv(\d+)\.(\d+)\s*$", line)
    if not m:
        if line.startswith("##fileformat="):
            raise UnsupportedVcfVersion(
                f"Line 1 declares {line[13:]!r}, which is not a VCF version GAS reads "
                "(VCFv4.0 to VCFv4.3)."
            )
        raise MalformedVcf(
            "Line 1 should be the VCF header line ##fileformat=VCFv4.x; "
            "this file does not start like a VCF."
        )
    major, minor = int(m.group(1)), int(m.group(2))
    if major != 4:
        raise UnsupportedVcfVersion(
            f"The file is VCFv{major}.{minor}; GAS reads VCFv4.0 to VCFv4.3. "
            "Convert it first (e.g. with vcftools or bcftools)."
        )


def _contig_lengths(lines: list[str]) -> dict[str, int]:
    out = {}
    for line in lines:
        if line.startswith("##contig=<"):
            idm = re.search(r"[<,]ID=([^,>]+)", line)
            lm = re.search(r"[<,]length=(\d+)", line)
            if idm and lm:
                out[canonical_contig(idm.group(1))] = int(lm.group(1))
    return out


def detect_build(header: Header) -> BuildEvidence:
    """The genome build the header declares: contig lengths first, then ##reference/##assembly,
    then any other header line naming a reference (e.g. a caller's command line)."""
    votes: dict[str, str] = {}
    for build, table in CONTIG_LENGTHS.items():
        for contig, length in header.contig_lengths.items():
            if table.get(contig) == length:
                votes.setdefault(build, f"##contig {contig} length {length}")
    if len(votes) > 1:
        raise BuildMismatch(
            f"The header's ##contig lengths mix genome builds ({', '.join(sorted(votes))}); "
            "GAS cannot tell which one the positions refer to."
        )
    if votes:
        ((build, ev),) = votes.items()
        return BuildEvidence(build, ev)
    for strong in (True, False):
        found: dict[str, str] = {}
        for line in header.lines:
            is_strong = line.startswith(("##reference=", "##assembly=", "##contig="))
            if is_strong != strong:
                continue
            for build, rx in BUILD_TOKENS.items():
                m = rx.search(line)
                if m:
                    found.setdefault(build, _quote(line, m))
        if len(found) == 1:
            ((build, ev),) = found.items()
            return BuildEvidence(build, ev)
        if len(found) > 1 and strong:
            raise BuildMismatch(
                f"The header names more than one genome build ({', '.join(sorted(found))}); "
                "GAS cannot tell which one the positions refer to."
            )
    return BuildEvidence(None, "")


def _quote(line: str, m: re.Match[str]) -> str:
    key = line.split("=", 1)[0]
    return f"{key}=…{m.group(0)}…" if len(line) > 60 else line


def read_chunks(f: BinaryIO, first: bytes, line_base: int) -> Iterator[tuple[bytes, int]]:
    """Yield (block of whole lines ending in a newline, number of lines before it in the file)."""
    carry = [first] if first else []  # the unfinished line, in pieces (no quadratic joins)
    carried = len(first)
    lines_done = line_base
    while True:
        data = read_stream(f, CHUNK_BYTES, lines_done)
        if not data:
            if carried:
                rest = b"".join(carry)
                yield (rest if rest.endswith(b"\n") else rest + b"\n"), lines_done
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            carry.append(data)
            carried += len(data)
            if carried > MAX_LINE_BYTES:
                raise MalformedVcf(
                    f"Line {lines_done + 1} is longer than 256 MB; this is not a VCF."
                )
            continue
        block = b"".join([*carry, data[: cut + 1]]) if carry else data[: cut + 1]
        carry = [data[cut + 1 :]] if cut + 1 < len(data) else []
        carried = len(data) - cut - 1
        yield block, lines_done
        lines_done += int(np.count_nonzero(np.frombuffer(block, np.uint8) == 10))


def read_spans(f: BinaryIO, first: bytes, line_base: int) -> Iterator[tuple[tuple[int, int], int]]:
    """Like ``read_chunks`` for a plain file, but each block as its (offset, length) in the file:
    the same cuts, found with one reused buffer, so the annotating threads read their own blocks.

    Only the last block may lack its final newline (``read_block`` adds it).
    """
    end = f.tell()  # bytes read up to here
    cut_at = end - len(first)  # the next block begins here (the body, at first)
    carried_newlines = first.count(b"\n")  # the header's read-ahead may hold whole lines
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    lines_done = line_base
    while True:
        # A file opened "rb" (a BufferedReader) has readinto; typing.BinaryIO does not declare it.
        n = f.readinto(view)  # type: ignore[attr-defined]
        if not n:
            if end > cut_at:
                yield (cut_at, end - cut_at), lines_done
            return
        cut = buf.rfind(b"\n", 0, n)
        if cut < 0:
            end += n
            if end - cut_at > MAX_LINE_BYTES:
                raise MalformedVcf(
                    f"Line {lines_done + 1} is longer than 256 MB; this is not a VCF."
                )
            continue
        yield (cut_at, end + cut + 1 - cut_at), lines_done
        lines_done += carried_newlines + buf.count(b"\n", 0, cut + 1)
        carried_newlines = 0
        cut_at = end + cut + 1
        end += n


def read_block(fd: int, span: tuple[int, int]) -> bytes:
    """The block of lines at ``span`` of a plain file (see read_spans), ending in a newline."""
    offset, length = span
    block = os.pread(fd, length, offset)
    while len(block) < length:  # a short read (signals, NFS): read on
        more = os.pread(fd, length - len(block), offset + len(block))
        if not more:
            raise TruncatedInput("The input file became shorter while it was being read.")
        block += more
    return block if block.endswith(b"\n") else block + b"\n"


@dataclass
class Fields:
    """Field boundaries of every data line in a block (byte offsets into the block)."""

    arr: np.ndarray
    n: int
    line_no: np.ndarray  # 1-based file line numbers of the kept (non-blank) lines
    starts: np.ndarray
    ends: np.ndarray  # end of line content (before \r\n)
    delete: np.ndarray | None  # bytes to drop on output (CR, blank lines), or None
    t: list[np.ndarray]  # t[k] = offset of the k-th tab, k = 0..6, and INFO end as t[7]
    pos0: np.ndarray  # 0-based position
    ref_len: np.ndarray
    n_alt: np.ndarray
    chrom_hash: np.ndarray | None = None  # from split_lines; else chrom_hashes computes it


def _hash_fields(
    arr: np.ndarray, start: np.ndarray, length: np.ndarray, cap: int = 64
) -> np.ndarray:
    """A 64-bit polynomial hash of each byte field (its length mixed in), computed column-wise."""
    h = length.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    m = int(min(length.max(initial=0), cap))
    p = np.uint64(1099511628211)
    for d in range(m):
        has = d < length
        b = arr[np.where(has, start + d, 0)].astype(np.uint64)
        h = np.where(has, (h ^ (b + np.uint64(1))) * p, h)
    return h


def _delimiters(arr: np.ndarray, ncols: int) -> tuple[np.ndarray, ...] | None:
    """Every line's tabs and newline as an (ncols, n) matrix (column k: each line's k-th
    delimiter), POS and the CHROM hash, in one pass (C).

    Only for the common shape (no CR, no blank line, no control byte, ncols - 1 tabs on every
    line, POS 1-10 digits); None sends the block to the general path, which also names the
    first bad line.
    """
    most = len(arr) // ncols + 1  # a line holds at least its ncols - 1 tabs and newline
    rows = np.empty((ncols, most), np.int64)
    pos = np.empty(most, np.int64)
    chrom = np.empty(most, np.uint64)
    n = split_lines(arr, ncols, rows, pos, chrom)
    return None if n < 0 else (rows[:, :n], pos[:n], chrom[:n])


def parse_chunk(block: bytes, lines_before: int, ncols: int) -> Fields:
    """Find every line's fields in one pass; raise MalformedVcf naming the first bad line."""
    arr = np.frombuffer(block, np.uint8)
    common = _delimiters(arr, ncols)
    if common is not None:
        rows, pos, chrom = common
        n = rows.shape[1]
        ends = rows[-1]
        starts = np.empty(n, np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        line_no = lines_before + 1 + np.arange(n)
        if arr[starts].min() == 35:  # '#'
            i = int(np.flatnonzero(arr[starts] == 35)[0])
            raise MalformedVcf(
                f"Line {line_no[i]} is a header line (starts with '#') after the data began."
            )
        t = [rows[k] for k in range(7)]
        t.append(rows[7] if ncols > 8 else ends)
        return _fields(block, arr, starts, ends, line_no, None, t, pos, chrom)
    return _parse_general(block, arr, lines_before, ncols)


def _parse_general(block: bytes, arr: np.ndarray, lines_before: int, ncols: int) -> Fields:
    nl = np.flatnonzero(arr == 10)
    starts_all = np.empty(len(nl), np.int64)
    starts_all[:1] = 0
    starts_all[1:] = nl[:-1] + 1
    ends_all = nl.astype(np.int64)
    cr = (ends_all > starts_all) & (arr[np.maximum(nl - 1, 0)] == 13)
    ends_all = ends_all - cr
    blank = ends_all == starts_all
    line_no_all = lines_before + 1 + np.arange(len(nl))
    delete = None
    if cr.any() or blank.any():
        delete = np.zeros(len(arr), bool)
        delete[nl[cr] - 1] = True
        delete[nl[blank]] = True
    keep = ~blank
    starts, ends, line_no = starts_all[keep], ends_all[keep], line_no_all[keep]
    if (arr == 0).any():
        bad = int(np.searchsorted(nl, np.flatnonzero(arr == 0)[0]))
        raise MalformedVcf(
            f"Line {lines_before + 1 + bad} contains binary data; this is not a VCF text file."
        )
    if len(starts) and arr[starts].min() == 35:  # '#'
        i = int(np.flatnonzero(arr[starts] == 35)[0])
        raise MalformedVcf(
            f"Line {line_no[i]} is a header line (starts with '#') after the data began."
        )
    tabs = np.flatnonzero(arr == 9)
    ti = np.searchsorted(tabs, starts)
    te = np.searchsorted(tabs, ends)
    ntab = te - ti
    wrong = np.flatnonzero(ntab != ncols - 1)
    if len(wrong):
        i = wrong[0]
        raise MalformedVcf(
            f"Line {line_no[i]} has {ntab[i] + 1} tab-separated column(s), but the #CHROM line "
            f"declares {ncols}."
        )
    t = [tabs[ti + k] for k in range(7)]
    t.append(tabs[ti + 7] if ncols > 8 else ends)
    return _fields(block, arr, starts, ends, line_no, delete, t)


def _parse_pos_fast(
    arr: np.ndarray, pstart: np.ndarray, pend: np.ndarray, plen: np.ndarray
) -> np.ndarray | None:
    """POS from a gather of each field's last bytes; None when any field is not 1-10 digits."""
    n = len(pstart)
    if n == 0 or plen.min() < 1 or plen.max() > 10:
        return None
    width = int(plen.max())
    padded = np.concatenate([np.full(16, 48, np.uint8), arr])  # a field may start at byte 0
    window = np.lib.stride_tricks.sliding_window_view(padded, width)
    digits = window[pend + 16 - width] - np.uint8(48)  # the field, right-aligned; '0' is 0
    digits[np.arange(width) < (width - plen)[:, None]] = 0  # bytes before the field
    if digits.max() > 9:  # any other byte (below '0' it wraps around above 9)
        return None
    pos = np.zeros(n, np.int64)
    for k in range(width):  # column by column: numpy has no fast integer matmul
        pos = pos * 10 + digits[:, k]
    if pos.max() >= (1 << 32):
        return None
    return pos


def _parse_pos_checked(
    block: bytes,
    arr: np.ndarray,
    pstart: np.ndarray,
    pend: np.ndarray,
    plen: np.ndarray,
    line_no: np.ndarray,
) -> np.ndarray:
    """POS digit by digit, column-wise, raising MalformedVcf for the first bad one."""
    t1 = pend
    pos = np.zeros(len(pstart), np.int64)
    bad = (plen < 1) | (plen > 10)
    for d in range(int(min(plen.max(initial=0), 10))):
        has = d < plen
        dig = arr[np.where(has, pstart + d, 0)].astype(np.int64) - 48
        bad |= has & ((dig < 0) | (dig > 9))
        pos = np.where(has, pos * 10 + dig, pos)
    bad |= pos >= (1 << 32)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        text = block[pstart[i] : t1[i]].decode("utf-8", "replace")[:40]
        raise MalformedVcf(f"Line {line_no[i]}: POS {text!r} is not a whole number.")
    return pos


def _fields(
    block: bytes,
    arr: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    line_no: np.ndarray,
    delete: np.ndarray | None,
    t: list[np.ndarray],
    pos: np.ndarray | None = None,
    chrom_hash: np.ndarray | None = None,
) -> Fields:
    """Check CHROM, POS and REF of lines whose tabs are known, and parse POS (unless given,
    already checked) and the ALT count. ``chrom_hash`` is split_lines' CHROM hashes, if any."""
    # CHROM must not be empty.
    empty_chrom = np.flatnonzero(t[0] == starts)
    if len(empty_chrom):
        raise MalformedVcf(f"Line {line_no[empty_chrom[0]]} has an empty CHROM column.")
    # POS: 1 to 10 decimal digits.
    if pos is None:
        pstart = t[0] + 1
        plen = t[1] - pstart
        pos = _parse_pos_fast(arr, pstart, t[1], plen)
        if pos is None:
            pos = _parse_pos_checked(block, arr, pstart, t[1], plen, line_no)
    ref_len = t[3] - t[2] - 1
    if (ref_len < 1).any():
        i = int(np.flatnonzero(ref_len < 1)[0])
        raise MalformedVcf(f"Line {line_no[i]} has an empty REF column.")
    alt_s, alt_e = t[3] + 1, t[4]
    alt_len = alt_e - alt_s
    n_alt = np.ones(len(starts), np.int64)
    longer = np.flatnonzero(alt_len > 2)  # only these can hold a comma
    if len(longer):
        commas = np.flatnonzero(arr == 44)
        n_alt[longer] += np.searchsorted(commas, alt_e[longer]) - np.searchsorted(
            commas, alt_s[longer]
        )
    missing = (alt_len == 1) & (arr[np.minimum(alt_s, len(arr) - 1)] == 46)  # ALT "."
    n_alt[missing] = 0
    return Fields(
        arr,
        len(starts),
        line_no,
        starts,
        ends,
        delete,
        t,
        np.maximum(pos - 1, 0),
        ref_len,
        n_alt,
        chrom_hash,
    )


def chrom_hashes(fields: Fields) -> np.ndarray:
    """A hash per line of its CHROM text (exact enough to group lines by contig).

    Names of up to 7 bytes (chr1, chrX, 22, MT) are read as one little-endian word ending at the
    tab, shifted to drop the bytes before the line start, with the length on top: exact, and a
    single gather. Longer names get the column-wise polynomial hash. ``split_lines`` makes the
    same hashes for the common shape of a block (per line: a long name elsewhere in the block
    does not change a short one's).
    """
    if fields.chrom_hash is not None:
        return fields.chrom_hash
    arr, starts, end = fields.arr, fields.starts, fields.t[0]
    length = end - starts
    if length.max(initial=0) > 7:
        return _hash_fields(arr, starts, length)
    padded = np.concatenate([np.zeros(8, np.uint8), arr])  # the first line starts at 0
    windows = np.lib.stride_tricks.sliding_window_view(padded, 8)
    word = windows[end].view(np.uint64)[:, 0]  # bytes end-8 .. end-1 of arr; not the tab
    shift = (8 * (8 - length)).astype(np.uint64)
    return (word >> shift) | (length.astype(np.uint64) << np.uint64(56))


def ref_hashes(fields: Fields) -> np.ndarray:
    """A hash per line of its REF allele."""
    start = fields.t[2] + 1
    return _hash_fields(fields.arr, start, fields.ref_len)
