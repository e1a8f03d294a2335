"""annotator._lines: join_lines, the C step that writes a block's output lines; split_lines, which
finds a block's fields; info_values, which finds INFO values for the outputs' tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from annotator.compiled import info_values, join_lines
from annotator.engine import _text_part


def heads(*spans: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([a for a, _ in spans], np.int64), np.array([b for _, b in spans], np.int64)


def test_each_line_is_its_head_then_one_value_of_each_part():
    src = b"l0-head|l1-head|l2-head|tail"
    table = pa.array([";A=x", None, ";A=zz"], pa.binary())  # a null row adds nothing
    per_line = pa.array(["!0", "!1", None, "!3"], pa.string()).slice(1)  # an offset array
    values = np.array([-12, 0, 9_000_000_000], np.int64)
    shown = np.array([True, False, True])
    got = join_lines(
        src,
        *heads((0, 8), (8, 16), (16, 24)),
        [
            _text_part(table, np.array([2, 1, 0])),
            ("int", b";D=", values, shown),
            _text_part(per_line),
        ],
    )
    assert got == b"l0-head|;A=zz;D=-12!1l1-head|l2-head|;A=x;D=9000000000!3"


def test_no_lines_give_no_bytes():
    assert join_lines(b"", *heads(), [_text_part(pa.array([], pa.binary()))]) == b""


@pytest.mark.parametrize(
    ("spans", "rows", "error"),
    [
        (((0, 3),), [3], "row index out of range"),
        (((0, 3),), [-1], "row index out of range"),
        (((0, 99),), [0], "head outside the source"),
        (((2, 1),), [0], "head outside the source"),
    ],
)
def test_bad_rows_and_heads_are_refused_not_read(spans, rows, error):
    table = pa.array(["a", "b", "c"], pa.binary())
    with pytest.raises(IndexError, match=error):
        join_lines(b"abcdef", *heads(*spans), [_text_part(table, np.array(rows))])


def test_short_arrays_are_refused():
    a, b = heads((0, 1), (1, 2))
    with pytest.raises(ValueError, match="fewer rows than lines"):
        join_lines(b"ab", a, b, [_text_part(pa.array(["x"], pa.binary()))])
    with pytest.raises(ValueError, match="values holds"):
        join_lines(b"ab", a, b, [("int", b";D=", np.zeros(1, np.int64), np.ones(2, bool))])
    with pytest.raises(ValueError, match="differ in length"):
        join_lines(b"ab", a, b[:1], [])


def split(block: bytes, ncols: int = 8) -> tuple[np.ndarray, np.ndarray] | None:
    from annotator.vcf import _delimiters

    return _delimiters(np.frombuffer(block, np.uint8), ncols)


def test_split_lines_finds_every_tab_newline_and_pos():
    block = b"chr1\t12\t.\tA\tG\t.\t.\tAC=1\n1\t4294967295\trs1\tAT\tA,C\t9\tPASS\t.\n"
    rows, pos, _ = split(block)
    cut = block.index(b"\n") + 1
    assert rows.T.tolist() == [
        [i for i, c in enumerate(block[:cut]) if c in b"\t\n"],
        [cut + i for i, c in enumerate(block[cut:]) if c in b"\t\n"],
    ]
    assert pos.tolist() == [12, 4294967295]


@pytest.mark.parametrize(
    "block",
    [
        b"",  # no line
        b"1\t2\t.\tA\tG\t.\t.\t.",  # no newline at the end
        b"1\t2\t.\tA\tG\t.\t.\t.\r\n",  # CR
        b"1\t2\t.\tA\tG\t.\t.\t.\n\n",  # a blank line
        b"1\t2\t.\tA\tG\t.\t.\n",  # a column short
        b"1\t2\t.\tA\tG\t.\t.\t.\t.\n",  # a column over
        b"1\t2\t.\tA\x00\tG\t.\t.\t.\n",  # a control byte
        b"1\t\t.\tA\tG\t.\t.\t.\n",  # empty POS
        b"1\t2x\t.\tA\tG\t.\t.\t.\n",  # POS not a number
        b"1\t-2\t.\tA\tG\t.\t.\t.\n",
        b"1\t4294967296\t.\tA\tG\t.\t.\t.\n",  # POS from 2^32
        b"1\t12345678901\t.\tA\tG\t.\t.\t.\n",  # 11 digits
    ],
)
def test_anything_but_the_common_shape_goes_to_the_general_path(block):
    assert split(block) is None


@pytest.mark.parametrize(
    "names", [["1", "chr1", "chrX", "MT", "chr22_x"], ["chrUn_KI270302v1", "HLA-A*01:01:01:01"]]
)
def test_split_lines_hashes_chrom_as_the_numpy_path_does(names):
    import dataclasses

    from annotator.vcf import chrom_hashes, parse_chunk

    block = "".join(f"{c}\t{i + 1}\t.\tA\tG\t.\t.\t.\n" for i, c in enumerate(names * 3)).encode()
    fields = parse_chunk(block, 0, 8)
    assert fields.chrom_hash is not None  # the C path took it
    by_numpy = chrom_hashes(dataclasses.replace(fields, chrom_hash=None))
    assert fields.chrom_hash.tolist() == by_numpy.tolist()
    assert len(set(by_numpy.tolist())) == len(names)


def test_the_portable_scan_splits_as_the_sse2_one(tmp_path):
    # split_lines scans 16 bytes at a time with SSE2 where the compiler has it (x86-64), else a
    # byte at a time (e.g. an aarch64 worker). Build the module without SSE2 and compare.
    import importlib.util
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import annotator.compiled

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine to build the portable variant")
    src = Path(annotator.compiled.__file__).with_name("_lines.c")
    (tmp_path / "annotator").mkdir()
    shutil.copy(src, tmp_path / "annotator" / "_lines.c")
    (tmp_path / "setup.py").write_text(
        "from setuptools import Extension, setup\n"
        "setup(ext_modules=[Extension('annotator._lines', ['annotator/_lines.c'],"
        " extra_compile_args=['-U__SSE2__'])])\n"
    )
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (so,) = (tmp_path / "annotator").glob("_lines*.so")
    spec = importlib.util.spec_from_file_location("annotator._lines", so)
    portable = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(portable)

    rng = np.random.default_rng(5)
    lines = [
        f"chr{rng.integers(1, 23)}\t{rng.integers(1, 10**9)}\t.\tA\tG,T\t.\tPASS\t{'X' * k}\n"
        for k in rng.integers(0, 40, 500)
    ]
    blocks = ["".join(lines).encode(), b"".join(ln.encode() for ln in lines[:7]) + b"1\t2\r\n"]
    blocks += [lines[0].encode() * k for k in range(1, 20)]  # every length mod 16
    for block in blocks:
        arr = np.frombuffer(block, np.uint8)
        got = []
        for module in (portable, annotator.compiled):
            most = len(arr) // 8 + 1
            out = (
                np.zeros(8 * most, np.int64),
                np.zeros(most, np.int64),
                np.zeros(most, np.uint64),
            )
            got.append((module.split_lines(arr, 8, *out), *(o.tobytes() for o in out)))
        assert got[0] == got[1]


def _info_values(texts: list[bytes], keys: tuple[bytes, ...]) -> list[list[bytes | None]]:
    data = b"".join(texts)
    offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int64)
    spans = np.full((len(keys), len(texts), 2), -1, np.int64)
    info_values(offsets, data, keys, spans)
    return [[data[a:b] if a >= 0 else None for a, b in spans[k]] for k in range(len(keys))]


def test_info_values_finds_each_keys_value_the_last_where_repeated_and_flags_empty():
    texts = [b"AC=1;GAS_A=x;GAS_B;GAS_A=yy", b".", b"GAS_B=1=2;X", b"", b"GAS_AB=no;XGAS_A=no"]
    assert _info_values(texts, (b"GAS_A", b"GAS_B")) == [
        [b"yy", None, None, None, None],
        [b"", None, b"1=2", None, None],
    ]


def test_info_values_refuses_spans_too_short_and_offsets_out_of_range():
    offsets = np.array([0, 3], np.int64)
    with pytest.raises(ValueError, match="spans"):
        info_values(offsets, b"A=1", (b"A",), np.full((1, 1, 1), -1, np.int64))
    with pytest.raises(ValueError, match="out of range"):
        info_values(np.array([0, 9], np.int64), b"A=1", (b"A",), np.full((1, 1, 2), -1, np.int64))
    with pytest.raises(TypeError, match="bytes"):
        info_values(offsets, b"A=1", ("A",), np.full((1, 1, 2), -1, np.int64))
