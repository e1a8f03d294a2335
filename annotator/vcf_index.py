"""The tabix index of a .vcf.gz, built while its text is written: the bytes `tabix -p vcf` makes,
without reading the file back.

tabix decompresses the whole file and parses every line again (about 1.4 CPU seconds per million
annotated records, after everything else is done). Here each block of text is read once, as it
goes to the BGZF writer: the C module finds each record's interval as tabix's VCF reading would
(``tabix_records`` in annotator/_lines.c), and htslib's own index code (``hts_idx_push``,
``hts_idx_finish``, ``hts_idx_save_as``, from pysam's build) is given each record with its virtual
offset, as soon as the compressed blocks holding it are on disk. Only the blocks' headers are
read back (where each compressed block starts and how much text it holds).

A file whose intervals tabix works out otherwise (INFO/END, symbolic ALTs, ...), out of order or
past a TBI's reach is left to tabix: ``finish`` then returns False and makes nothing.
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

import numpy as np

from annotator.compiled import push_records, tabix_records

_HTS_FMT_TBI = 2  # htslib/hts.h
_TBI_MIN_SHIFT, _TBI_LEVELS = 14, 5  # what tabix gives a TBI
TBI_MAX_POSITION = 1 << 29  # a TBI cannot hold an interval ending beyond this
_BGZF_HEADER = struct.Struct("<4s6xH")  # magic ... XLEN
_EOF_BLOCK_BYTES = 28


class OnTheFlyIndex:
    """Fed the .vcf.gz's text in order (``add``, whole lines) while ``gz`` is being written; after
    the writer is closed, ``finish`` saves the TBI."""

    def __init__(self, gz: Path, lib: ctypes.CDLL) -> None:
        self.gz, self.lib = gz, lib
        self.usable = True
        # Given up on a line tabix reads another way: tabix must read the whole file back (an
        # out-of-order or far-reaching file is sorted again or gets a CSI instead).
        self.tabix_reads_it = False
        self._push_address = 0
        try:
            _declare(lib)
            self._push_address = ctypes.cast(lib.hts_idx_push, ctypes.c_void_p).value or 0
        except AttributeError:  # an htslib build without these calls: tabix indexes as before
            self.usable, self.tabix_reads_it = False, True
        self.fed = 0  # bytes of text seen
        self.names: dict[bytes, int] = {}  # CHROM -> tabix's tid (order of first appearance)
        self.first_record: int | None = None  # where the first record starts in the text
        self.last_tid, self.last_beg = -1, -1
        self._pending: list[tuple[np.ndarray, ...]] = []  # (tids, begs, ends, text offsets)
        # The compressed blocks read so far: where each starts, its text's start and size.
        self._block_at: list[int] = []
        self._block_text: list[int] = []
        self._block_size: list[int] = []
        self._read_to = 0  # compressed bytes walked
        self._text_to = 0  # text those blocks hold
        self._fd: int | None = None
        self._idx: int | None = None

    def add(self, block: bytes) -> None:
        """The next whole lines of text, as they were handed to the BGZF writer."""
        base, self.fed = self.fed, self.fed + len(block)
        if not self.usable or not block:
            return
        cap = len(block) // 8 + 1  # a record line has 8 bytes or more (five columns)
        begs, ends, line_ends, run_starts, chrom_from, chrom_to = (
            np.empty(cap, np.int64) for _ in range(6)
        )
        n, runs, first, plain = tabix_records(
            block, begs, ends, line_ends, run_starts, chrom_from, chrom_to
        )
        if not plain:
            self._give_up(tabix_reads_it=True)
            return
        if n == 0:
            return
        if self.first_record is None:
            self.first_record = base + first
        spans = zip(chrom_from[:runs].tolist(), chrom_to[:runs].tolist(), strict=True)
        run_tids = np.array([self.names.setdefault(block[a:b], len(self.names)) for a, b in spans])
        tids = np.repeat(run_tids.astype(np.int32), np.diff(np.append(run_starts[:runs], n)))
        begs, ends = begs[:n], ends[:n]
        if not self._in_order(tids, begs) or int(ends.max()) >= TBI_MAX_POSITION:
            self._give_up()  # sorted and indexed again, or a CSI: tabix's work
            return
        self._pending.append((tids, begs, ends, base + line_ends[:n]))
        try:
            self._push_written()
        except OSError:
            self._give_up(tabix_reads_it=True)  # the file cannot be read as it grows

    def finish(self, text_bytes: int) -> bool:
        """Save the TBI beside ``gz`` (as ``gz``.tbi) once the writer has closed it; False, and
        nothing saved, when the file is tabix's to index. ``text_bytes``: all the text written."""
        try:
            if not self.usable or text_bytes != self.fed:
                return False  # e.g. a last line without its newline: tabix's reading decides
            try:
                self._read_blocks()
                self._push_written()
            except OSError:
                return False
            if not self.usable or self._pending or self._text_to != self.fed:
                return False  # the file on disk is not the text seen
            if self._idx is None:  # no record: tabix's empty index
                self._start(self.fed)
            lib, idx = self.lib, self._idx
            eof = os.fstat(self._fd_of()).st_size - _EOF_BLOCK_BYTES
            if lib.hts_idx_finish(idx, eof << 16) != 0:
                return False
            meta = self._meta()
            if lib.hts_idx_set_meta(idx, len(meta), meta, 1) != 0:
                return False
            index = os.fsencode(f"{self.gz}.tbi")
            return lib.hts_idx_save_as(idx, os.fsencode(self.gz), index, _HTS_FMT_TBI) == 0
        finally:
            self.close()

    def close(self) -> None:
        """Free htslib's index and the file (safe to call more than once)."""
        if self._idx is not None:
            self.lib.hts_idx_destroy(self._idx)
            self._idx = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _give_up(self, tabix_reads_it: bool = False) -> None:
        self.usable = False
        self.tabix_reads_it = tabix_reads_it
        self._pending = []
        self.close()

    def _in_order(self, tids: np.ndarray, begs: np.ndarray) -> bool:
        """What hts_idx_push demands (it would refuse, and log, otherwise): contigs in one run
        each, positions ascending within them."""
        prev_tid = np.concatenate([[self.last_tid], tids[:-1]])
        prev_beg = np.concatenate([[self.last_beg], begs[:-1]])
        same = tids == prev_tid
        if bool((tids < prev_tid).any()) or bool((same & (begs < prev_beg)).any()):
            return False
        self.last_tid, self.last_beg = int(tids[-1]), int(begs[-1])
        return True

    def _fd_of(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.gz, os.O_RDONLY)
        return self._fd

    def _read_blocks(self) -> None:
        """Walk the compressed blocks now wholly on disk (the writer's threads append them)."""
        fd = self._fd_of()
        size = os.fstat(fd).st_size
        if size <= self._read_to:
            return
        data = os.pread(fd, size - self._read_to, self._read_to)
        at = 0
        while at + 18 <= len(data):
            magic, xlen = _BGZF_HEADER.unpack_from(data, at)
            if magic != b"\x1f\x8b\x08\x04" or xlen != 6 or data[at + 12 : at + 14] != b"BC":
                raise OSError(f"{self.gz.name} is not BGZF as htslib writes it")
            total = struct.unpack_from("<H", data, at + 16)[0] + 1
            if at + total > len(data):
                break
            text = struct.unpack_from("<I", data, at + total - 4)[0]
            self._block_at.append(self._read_to + at)
            self._block_text.append(self._text_to)
            self._block_size.append(text)
            self._text_to += text
            at += total
        self._read_to += at

    def _virtual(self, text_offset: np.ndarray) -> np.ndarray:
        """htslib's virtual offsets (block start << 16 | offset in its text) of text offsets
        within the blocks read, as bgzf_tell gives them when reading: an offset at a block's end
        is the next block's start."""
        starts = np.asarray(self._block_text, np.int64)
        k = np.searchsorted(starts, text_offset, side="right") - 1
        at = np.asarray(self._block_at, np.uint64)
        size = np.asarray(self._block_size, np.int64)
        within = text_offset - starts[k]
        past = (within >= size[k]) & (size[k] > 0)
        next_start = at[k]
        if past.any():
            blocks = np.asarray(self._block_at + [self._read_to], np.uint64)
            next_start = np.where(past, blocks[k + 1], at[k])
        return (next_start << np.uint64(16)) | np.where(past, 0, within).astype(np.uint64)

    def _start(self, first_offset: int) -> None:
        offset0 = int(self._virtual(np.array([first_offset], np.int64))[0])
        idx = self.lib.hts_idx_init(0, _HTS_FMT_TBI, offset0, _TBI_MIN_SHIFT, _TBI_LEVELS)
        if not idx:
            raise MemoryError("htslib could not start an index")
        self._idx = idx

    def _push_written(self) -> None:
        """Give htslib every pending record whose text's end is in blocks on disk."""
        if not self._pending:
            return
        self._read_blocks()
        ready = self._text_to
        while self._pending:
            tids, begs, ends, text_ends = self._pending[0]
            n = int(np.searchsorted(text_ends, ready, side="right"))
            if n == 0:
                return
            if self._idx is None:
                assert self.first_record is not None
                self._start(self.first_record)
            offsets = self._virtual(text_ends[:n])
            refused = push_records(
                self._push_address, self._idx, tids[:n], begs[:n], ends[:n], offsets
            )
            if refused >= 0:
                self._give_up(tabix_reads_it=True)
                return
            self._forget_blocks_before(int(text_ends[n - 1]))
            if n == len(tids):
                self._pending.pop(0)
            else:
                self._pending[0] = (tids[n:], begs[n:], ends[n:], text_ends[n:])
                return

    def _forget_blocks_before(self, pushed: int) -> None:
        """Drop the blocks wholly before text offset ``pushed`` (every later record ends after
        it), so that the blocks kept stay few whatever the file's size."""
        done = 0
        while (
            done < len(self._block_at) - 1
            and self._block_text[done] + self._block_size[done] < pushed
        ):
            done += 1
        if done:
            del self._block_at[:done], self._block_text[:done], self._block_size[:done]

    def _meta(self) -> bytes:
        """tabix's meta block: the VCF preset's six columns, the names' length, the names."""
        conf = (ctypes.c_int32 * 6).in_dll(self.lib, "tbx_conf_vcf")
        names = b"".join(name + b"\0" for name in self.names)
        return struct.pack("<7i", *conf, len(names)) + names


def _declare(lib: ctypes.CDLL) -> None:
    lib.hts_idx_init.restype = ctypes.c_void_p
    lib.hts_idx_init.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_uint64,
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.hts_idx_finish.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
    lib.hts_idx_set_meta.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    lib.hts_idx_save_as.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    lib.hts_idx_destroy.argtypes = [ctypes.c_void_p]
    lib.hts_idx_destroy.restype = None
