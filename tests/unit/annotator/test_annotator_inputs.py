"""The files researchers actually upload: compressed, old, messy or broken."""

from __future__ import annotations

import gzip
import json
import struct
import zlib

import pytest

from annotator import (
    AnnotationInputError,
    BuildMismatch,
    MalformedVcf,
    ReferenceUnavailable,
    TruncatedInput,
    UnsupportedVcfVersion,
    annotate_file,
)

CDS_TP53 = "17 7676550 . G A . . ."


def bgzf(data: bytes, block: int = 1000) -> bytes:
    """BGZF as bgzip writes it: gzip members with the BC extra field, then the empty EOF block."""
    out = b""
    for i in range(0, len(data), block):
        chunk = data[i : i + block]
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = c.compress(chunk) + c.flush()
        bsize = len(body) + 25
        out += b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"
        out += struct.pack("<H", bsize) + body
        out += struct.pack("<II", zlib.crc32(chunk), len(chunk))
    return out + bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def assert_no_outputs(outputs):
    for p in outputs.values():
        assert not p.exists(), p
    parent = outputs["output_vcf"].parent
    if parent.exists():
        assert list(parent.iterdir()) == []


def run(path, outputs, reference_dir, **kw):
    return annotate_file(path, **outputs, reference_dir=reference_dir, **kw)


# ----------------------------------------------------------------------------- refused


def test_truncated_gzip_is_refused_with_no_output(tmp_path, reference_dir, outputs, write_vcf):
    src = write_vcf([f"17 {7676000 + i} . G A . . ." for i in range(5000)])
    data = gzip.compress(src.read_bytes())
    bad = tmp_path / "cut.vcf.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedInput, match="truncated") as info:
        run(bad, outputs, reference_dir)
    assert info.value.error_name == "TruncatedInput"
    assert_no_outputs(outputs)


def test_binary_file_is_refused(tmp_path, reference_dir, outputs):
    bad = tmp_path / "photo.vcf"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10)
    with pytest.raises(MalformedVcf, match="binary"):
        run(bad, outputs, reference_dir)
    assert_no_outputs(outputs)


def test_missing_header_is_refused_naming_line_1(tmp_path, reference_dir, outputs):
    bad = tmp_path / "nohead.vcf"
    bad.write_text("17\t7676550\t.\tG\tA\t.\t.\t.\n")
    with pytest.raises(MalformedVcf, match="Line 1"):
        run(bad, outputs, reference_dir)
    assert_no_outputs(outputs)


def test_wrong_column_count_names_the_line(reference_dir, outputs, write_vcf):
    # header is 2 lines, so the third record is line 5
    bad = write_vcf([CDS_TP53, CDS_TP53, "17 7676551 . G A . ."])
    with pytest.raises(MalformedVcf, match=r"Line 5 has 7 tab-separated column\(s\).*declares 8"):
        run(bad, outputs, reference_dir)
    assert_no_outputs(outputs)


def test_non_numeric_position_names_the_line(reference_dir, outputs, write_vcf):
    bad = write_vcf([CDS_TP53, "17 76x6 . G A . . ."])
    with pytest.raises(MalformedVcf, match=r"Line 4: POS '76x6' is not a whole number"):
        run(bad, outputs, reference_dir)
    assert_no_outputs(outputs)


def test_error_late_in_a_large_file_names_the_right_line(reference_dir, outputs, write_vcf):
    recs = [f"17 {1000 + i} . G A . . ." for i in range(300_000)]
    recs[250_000] = "17 -5 . G A . . ."
    with pytest.raises(MalformedVcf, match="Line 250003: POS '-5'"):
        run(write_vcf(recs), outputs, reference_dir)
    assert_no_outputs(outputs)


def test_vcf_3_3_is_refused_as_unsupported(reference_dir, outputs, write_vcf):
    bad = write_vcf([CDS_TP53], header="##fileformat=VCFv3.3\n")
    with pytest.raises(UnsupportedVcfVersion, match="VCFv3.3") as info:
        run(bad, outputs, reference_dir)
    assert info.value.error_name == "UnsupportedVcfVersion"
    assert isinstance(info.value, AnnotationInputError)


def test_empty_file_is_refused(tmp_path, reference_dir, outputs):
    empty = tmp_path / "empty.vcf"
    empty.write_bytes(b"")
    with pytest.raises(MalformedVcf, match="empty"):
        run(empty, outputs, reference_dir)
    assert_no_outputs(outputs)


def test_header_only_file_is_annotated_with_zero_variants(reference_dir, outputs, write_vcf):
    # A valid VCF that filtering pipelines produce; bcftools and VEP process it.
    result = run(write_vcf([]), outputs, reference_dir)
    assert result.variants == 0 and result.alleles == 0
    assert any("no variant records" in n for n in result.notes)
    text = outputs["output_vcf"].read_text()
    assert text.splitlines()[-1].startswith("#CHROM") and "##INFO=<ID=GAS_REGION" in text
    assert "no variant records" in outputs["log_path"].read_text()


def test_header_line_after_data_is_refused(reference_dir, outputs, write_vcf):
    bad = write_vcf([CDS_TP53, "#CHROM POS ID REF ALT QUAL FILTER INFO"])
    with pytest.raises(MalformedVcf, match="Line 4 is a header line"):
        run(bad, outputs, reference_dir)


def test_missing_bundle_is_an_operator_problem(tmp_path, outputs, write_vcf):
    with pytest.raises(ReferenceUnavailable, match="install-defaults") as info:
        run(write_vcf([CDS_TP53]), outputs, tmp_path / "no-bundles")
    assert info.value.error_name == "ReferenceUnavailable"
    assert not isinstance(info.value, AnnotationInputError)
    assert_no_outputs(outputs)


def test_existing_output_is_not_deleted_by_a_failed_run(reference_dir, outputs, write_vcf):
    outputs["output_vcf"].parent.mkdir(parents=True)
    outputs["output_vcf"].write_text("previous result\n")
    with pytest.raises(MalformedVcf):
        run(write_vcf(["17 x . G A . . ."]), outputs, reference_dir)
    assert outputs["output_vcf"].read_text() == "previous result\n"


# ----------------------------------------------------------------------------- builds


def test_header_build_beats_default_and_wrong_request_is_refused(reference_dir, outputs, write_vcf):
    vcf = write_vcf(["17 7579880 . G A . . ."], header="##fileformat=VCFv4.1\n##reference=GRCh37\n")
    r = run(vcf, outputs, reference_dir)
    assert (r.build, r.build_source) == ("GRCh37", "header")
    with pytest.raises(BuildMismatch, match="says GRCh37.*GRCh38 was requested"):
        run(vcf, outputs, reference_dir, build="GRCh38")


def test_contig_lengths_identify_the_build(reference_dir, outputs, write_vcf, records_of):
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr17,length=83257441>\n"
    r = run(write_vcf(["chr17 7676550 . G A . . ."], header=header), outputs, reference_dir)
    assert (r.build, r.build_source) == ("GRCh38", "header")
    assert records_of(outputs["output_vcf"])[0]["GAS_GENE"] == "TP53"


def test_hg18_has_no_bundle_and_is_refused(reference_dir, outputs, write_vcf):
    vcf = write_vcf([CDS_TP53], header="##fileformat=VCFv4.0\n##reference=hg18\n")
    with pytest.raises(BuildMismatch, match="NCBI36"):
        run(vcf, outputs, reference_dir)
    assert_no_outputs(outputs)


def test_no_build_in_header_uses_default_and_says_so(reference_dir, outputs, write_vcf):
    r = run(write_vcf([CDS_TP53]), outputs, reference_dir, default_build="GRCh37")
    assert (r.build, r.build_source) == ("GRCh37", "default")
    text = outputs["output_vcf"].read_text()
    assert "##GAS_note=" in text and "default GRCh37" in text
    assert "default GRCh37" in outputs["log_path"].read_text()


# ----------------------------------------------------------------------------- accepted


def test_a_byte_order_mark_is_read_past_as_the_upload_check_does(
    tmp_path, reference_dir, outputs, write_vcf, records_of
):
    """Windows editors start a saved file with a UTF-8 BOM: the upload took such a file
    (workflows.uploads) and the annotation then refused it as 'not starting like a VCF'."""
    src = write_vcf([CDS_TP53])
    marked = tmp_path / "bom.vcf"
    marked.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    r = run(marked, outputs, reference_dir, build="GRCh38")
    assert r.variants == 1
    assert outputs["output_vcf"].read_bytes().startswith(b"##fileformat=VCFv4")
    assert [x["GAS_REGION"] for x in records_of(outputs["output_vcf"])] == ["CDS"]


def test_crlf_line_ends_are_read_and_written_as_lf(
    tmp_path, reference_dir, outputs, write_vcf, records_of
):
    src = write_vcf([CDS_TP53, "17 7676610 . G A . . DP=4"])
    crlf = tmp_path / "crlf.vcf"
    crlf.write_bytes(src.read_bytes().replace(b"\n", b"\r\n") + b"\r\n")
    r = run(crlf, outputs, reference_dir, build="GRCh38")
    assert r.variants == 2
    assert b"\r" not in outputs["output_vcf"].read_bytes()
    recs = records_of(outputs["output_vcf"])
    assert [x["GAS_REGION"] for x in recs] == ["CDS", "UTR5"]
    assert recs[1]["DP"] == "4"


def test_unsorted_records_are_annotated_and_noted(reference_dir, outputs, write_vcf, records_of):
    r = run(
        write_vcf(
            [
                "17 7676610 . G A . . .",
                CDS_TP53,
                "1 221681424 . G A . . .",
                "17 7670000 . G A . . .",
            ]
        ),
        outputs,
        reference_dir,
        build="GRCh38",
    )
    assert not r.sorted_input
    assert "not sorted" in " ".join(r.notes)
    got = [x["GAS_REGION"] for x in records_of(outputs["output_vcf"])]
    assert got == ["UTR5", "CDS", "intergenic", "intron"]


def test_unknown_contigs_are_kept_and_marked(reference_dir, outputs, write_vcf, records_of):
    r = run(
        write_vcf(["chrUn_gl000220 100 . G A . . .", CDS_TP53, "HLA-A*01:01 5 . G A . . ."]),
        outputs,
        reference_dir,
        build="GRCh38",
    )
    recs = records_of(outputs["output_vcf"])
    assert [x["CHROM"] for x in recs] == ["chrUn_gl000220", "17", "HLA-A*01:01"]
    assert [x["GAS_REGION"] for x in recs] == ["unknown_contig", "CDS", "unknown_contig"]
    assert r.unknown_contig_records == 2
    assert r.by_chromosome == {"17": 1, "HLA-A*01:01": 1, "chrUn_gl000220": 1}


def test_chr_and_plain_names_and_mt_chrm_agree(reference_dir, outputs, write_vcf, records_of):
    recs_in = [
        "chr17 7676550 . G A . . .",
        "17 7676550 . G A . . .",
        "MT 3500 . G A . . .",
        "chrM 3500 . G A . . .",
        "chrMT 3500 . G A . . .",
    ]
    r = run(write_vcf(recs_in), outputs, reference_dir, build="GRCh38")
    recs = records_of(outputs["output_vcf"])
    assert [x["CHROM"] for x in recs] == ["chr17", "17", "MT", "chrM", "chrMT"]  # naming kept
    assert {(x["GAS_REGION"], x["GAS_GENE"]) for x in recs[:2]} == {("CDS", "TP53")}
    assert {(x["GAS_REGION"], x["GAS_GENE"]) for x in recs[2:]} == {("CDS", "MT-ND1")}
    assert r.by_chromosome == {"17": 2, "MT": 3}


def test_multiallelic_symbolic_and_star_alleles(reference_dir, outputs, write_vcf, records_of):
    r = run(
        write_vcf(
            [
                "17 7676550 . G A,C,T . . .",
                "17 7670000 . G <DEL> . . SVTYPE=DEL",
                "17 7676550 . G *,A . . .",
                "17 7676551 . G . . . .",
            ]
        ),
        outputs,
        reference_dir,
        build="GRCh38",
    )
    assert r.variants == 4 and r.alleles == 3 + 1 + 2 + 0
    recs = records_of(outputs["output_vcf"])
    # Number=A: one value per ALT; a record without ALT still gets its site's value.
    assert [x["GAS_REGION"] for x in recs] == ["CDS,CDS,CDS", "intron", "CDS,CDS", "CDS"]
    assert recs[0]["GAS_GENE"] == "TP53,TP53,TP53"
    assert recs[1]["SVTYPE"] == "DEL"


def test_plain_gzip_and_bgzip_give_the_same_output(tmp_path, reference_dir, write_vcf):
    src = write_vcf([f"17 {7660000 + 37 * i} . G A . . ." for i in range(3000)])
    outs = []
    for name, data in (
        ("plain.vcf", src.read_bytes()),
        ("g.vcf.gz", gzip.compress(src.read_bytes())),
        ("bg.vcf.gz", bgzf(src.read_bytes())),
    ):
        p = tmp_path / name
        p.write_bytes(data)
        o = {
            "output_vcf": tmp_path / f"{name}.out.vcf",
            "log_path": tmp_path / f"{name}.log",
            "summary_path": tmp_path / f"{name}.json",
        }
        r = annotate_file(p, **o, build="GRCh38", reference_dir=reference_dir)
        assert r.variants == 3000
        outs.append(o["output_vcf"].read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_output_header_declares_the_fields_and_keeps_the_original(
    reference_dir, outputs, write_vcf
):
    header = '##fileformat=VCFv4.2\n##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    run(write_vcf([CDS_TP53], header=header), outputs, reference_dir, build="GRCh38")
    lines = outputs["output_vcf"].read_text().splitlines()
    assert lines[0] == "##fileformat=VCFv4.2"
    assert lines[1].startswith("##INFO=<ID=DP,")
    for field in ("GAS_REGION", "GAS_GENE", "GAS_GENE_ID", "GAS_STRAND", "GAS_DISTANCE"):
        assert any(x.startswith(f"##INFO=<ID={field},") for x in lines), field
    assert lines[-2].startswith("#CHROM")


def test_summary_and_count_log_are_chartable(reference_dir, outputs, write_vcf):
    progress = []
    run(
        write_vcf([CDS_TP53, "17 7670000 . G A . . .", "chr1 221681424 . G A . . ."]),
        outputs,
        reference_dir,
        build="GRCh38",
        progress=progress.append,
    )
    s = json.loads(outputs["summary_path"].read_text())
    assert s["variants"] == 3 and s["alleles"] == 3 and s["build"] == "GRCh38"
    assert s["by_region"]["CDS"] == 1 and s["by_region"]["intron"] == 1
    assert s["by_region"]["intergenic"] == 1 and sum(s["by_region"].values()) == 3
    assert s["by_chromosome"] == {"1": 1, "17": 2}
    assert s["genes_hit"] == 1  # TP53 (DUSP10 is only the nearest gene)
    log = outputs["log_path"].read_text()
    assert "Total number of variants (records): 3" in log and "  CDS\t1" in log
    assert progress[-1] == 3


def test_known_site_ids_are_added(
    tmp_path, reference_dir, outputs, write_vcf, records_of, known_source
):
    known = tmp_path / "known.vcf"
    known.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr17\t7676550\trs1042522\tG\tA,C\t.\t.\t.\n"
        "chr17\t7670000\trs999\tT\tC\t.\t.\t.\n"
    )
    r = run(
        write_vcf([CDS_TP53, "17 7670000 . G A . . ."]),
        outputs,
        reference_dir,
        build="GRCh38",
        sources=[known_source(known)],
    )
    recs = records_of(outputs["output_vcf"])
    assert recs[0]["GAS_KNOWN_ID"] == "rs1042522"
    assert "GAS_KNOWN_ID" not in recs[1]  # same position, other REF: not the same variant
    assert r.known_ids == 1


# ----------------------------------------------------------------------------- the samples


def test_mitochondrial_samples_annotate(samples, reference_dir, outputs, records_of):
    for name, n in (("test.vcf", 350), ("free_1.vcf", 1141)):
        r = run(samples / name, outputs, reference_dir)
        assert r.variants == n and r.build_source == "default"
        recs = records_of(outputs["output_vcf"])
        assert all(x["GAS_REGION"] != "unknown_contig" for x in recs)
        assert r.by_region["CDS"] > 0


def test_premium_sample_is_read_as_grch37_from_its_caller_line(samples, reference_dir, outputs):
    r = run(samples / "premium_2.vcf", outputs, reference_dir)
    assert (r.variants, r.build, r.build_source) == (976, "GRCh37", "header")
    assert r.by_region["CDS"] > 500  # exome capture calls
    with pytest.raises(BuildMismatch):
        run(samples / "premium_2.vcf", outputs, reference_dir, build="GRCh38")


@pytest.mark.parametrize("chunk", [64, 4096, 1 << 20])
def test_block_spans_are_the_blocks_read_in_one_process(tmp_path, monkeypatch, chunk):
    # Block mode's workers read their own blocks of a plain file: the same cuts, bytes and line
    # numbers as the one-process reader, whatever the line lengths and the file's last bytes.
    import os
    import random

    import annotator.vcf as vcf

    monkeypatch.setattr(vcf, "CHUNK_BYTES", chunk)
    rng = random.Random(chunk)
    head = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    for n, end in ((0, b""), (0, b"\n"), (1, b""), (500, b"\n"), (2000, b"\r\n"), (300, b"\n\n")):
        info = [b"X" * rng.choice([1, 40, 900, 5000]) for _ in range(n)]
        body = b"\n".join(b"1\t%d\t.\tA\tC\t.\t.\t%s" % (i + 1, x) for i, x in enumerate(info))
        path = tmp_path / f"f{n}.vcf"
        path.write_bytes(head + body + end)
        with vcf.open_input(path) as f:
            header, first = vcf.read_header(f)
            chunks = list(vcf.read_chunks(f, first, header.line_count))
        with vcf.open_input(path) as f:
            header, first = vcf.read_header(f)
            spans = list(vcf.read_spans(f, first, header.line_count))
            fd = os.dup(f.fileno())
        try:
            assert [(vcf.read_block(fd, s), lines) for s, lines in spans] == chunks
        finally:
            os.close(fd)
