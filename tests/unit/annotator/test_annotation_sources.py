"""Annotation sources on their own: building the compact form, and matching rules that the
comparison with bcftools (test_annotation_sources_vs_bcftools.py) does not pin down."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotator import annotation_sources as sources
from annotator.annotation_sources import SourceError, build_source
from annotator.engine import annotate_file

COLS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
INFO = (
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">\n'
    '##INFO=<ID=SIG,Number=.,Type=String,Description="Significance, \\"quoted\\" and all">\n'
    '##INFO=<ID=AC,Number=R,Type=Integer,Description="Counts">\n'
)


def vcf(path: Path, records: list[str], header: str = INFO) -> Path:
    path.write_text(
        "##fileformat=VCFv4.2\n"
        + header
        + COLS
        + "".join(r.replace(" ", "\t") + "\n" for r in records)
    )
    return path


def annotate(tmp_path: Path, reference_dir: Path, records: list[str], built: list[Path]):
    inp = vcf(tmp_path / "in.vcf", records, "")
    out = tmp_path / "out.vcf"
    result = annotate_file(
        inp,
        out,
        tmp_path / "log",
        tmp_path / "s.json",
        build="GRCh38",
        reference_dir=reference_dir,
        sources=built,
    )
    rows = []
    for line in out.read_text().splitlines():
        if not line.startswith("#"):
            info = line.split("\t")[7].split(";")
            rows.append(dict(x.split("=", 1) if "=" in x else (x, "") for x in info))
    return rows, result, out


def test_the_first_of_duplicates_wins_and_records_at_one_position_are_kept_apart(
    tmp_path, reference_dir
):
    src = vcf(
        tmp_path / "s.vcf",
        [
            "1 100 a A C . . AF=0.1;SIG=first",
            "1 100 b A C . . AF=0.2;SIG=second",  # the same allele again: the first wins
            "1 100 c A G,T . . AF=0.3,0.4;SIG=third",
        ],
    )
    build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AF", "SIG", "ID"])
    rows, result, _ = annotate(
        tmp_path, reference_dir, ["chr1 100 . A T,C,G . . ."], [tmp_path / "b"]
    )
    assert rows[0]["GAS_DB_AF"] == "0.4,0.1,0.3"
    assert rows[0]["GAS_DB_SIG"] == "third,first,third"
    assert rows[0]["GAS_DB_ID"] == "c,a,c"
    assert result.sources[0]["matched_alleles"] == 3


def test_long_and_symbolic_alleles_match_exactly(tmp_path, reference_dir):
    long_ref = "A" + "CGTACGTACG" * 4
    src = vcf(
        tmp_path / "s.vcf",
        [
            f"1 200 . {long_ref} A . . AF=0.5",
            "1 300 . G <DEL> . . AF=0.25",
            "1 400 . T * . . AF=0.125",
        ],
    )
    build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AF"])
    rows, _, _ = annotate(
        tmp_path,
        reference_dir,
        [
            f"chr1 200 . {long_ref} A . . .",  # 41 bases: its code is a hash, checked by text
            f"chr1 200 . {long_ref} AC . . .",  # another long allele at the same place
            "chr1 300 . G <DEL> . . .",
            "chr1 300 . G <INS> . . .",
            "chr1 400 . T * . . .",
        ],
        [tmp_path / "b"],
    )
    assert [r.get("GAS_DB_AF") for r in rows] == ["0.5", None, "0.25", None, "0.125"]


def test_number_r_keeps_one_ref_value_then_one_per_alt(tmp_path, reference_dir):
    src = vcf(tmp_path / "s.vcf", ["1 100 . A C,G . . AC=10,1,2", "1 100 . A T . . AC=20,3"])
    build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AC"])
    rows, _, out = annotate(
        tmp_path, reference_dir, ["chr1 100 . A G,T,CC . . ."], [tmp_path / "b"]
    )
    assert rows[0]["GAS_DB_AC"] == "10,2,3,."  # REF's from the first matched allele
    assert '##INFO=<ID=GAS_DB_AC,Number=R,Type=Integer,Description="Counts">' in out.read_text()


def test_header_text_and_type_are_the_sources_and_lists_keep_their_commas(tmp_path, reference_dir):
    src = vcf(tmp_path / "s.vcf", ["1 100 . A C . . SIG=Pathogenic,Benign;AF=0.01"])
    build_source(src, tmp_path / "b", name="clinvar", build="GRCh38", fields=["SIG", "AF"])
    rows, _, out = annotate(tmp_path, reference_dir, ["chr1 100 . A C,G . . ."], [tmp_path / "b"])
    assert rows[0]["GAS_CLINVAR_SIG"] == "Pathogenic%2CBenign,."
    text = out.read_text()
    assert (
        "##INFO=<ID=GAS_CLINVAR_SIG,Number=A,Type=String,"
        'Description="Significance, \\"quoted\\" and all">'
    ) in text
    assert "##GAS_source=<ID=clinvar,Build=GRCh38," in text


def test_position_match_takes_the_first_record_at_the_pos(tmp_path, reference_dir):
    src = vcf(tmp_path / "s.vcf", ["1 100 . A C . . AF=0.1", "1 100 . AT A . . AF=0.2"])
    build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AF"], match="position")
    rows, _, _ = annotate(
        tmp_path,
        reference_dir,
        ["chr1 100 . A G,T . . .", "chr1 101 . T C . . ."],
        [tmp_path / "b"],
    )
    assert rows[0]["GAS_DB_AF"] == "0.1" and "GAS_DB_AF" not in rows[1]


def test_an_unsorted_source_is_sorted_in_memory(tmp_path, reference_dir):
    src = vcf(
        tmp_path / "s.vcf",
        ["2 50 . A C . . AF=0.5", "1 100 . A C . . AF=0.1", "1 90 . A C . . AF=0.2"],
    )
    said: list[str] = []
    m = build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AF"], say=said.append)
    assert any("not sorted" in s for s in said) and m["counts"]["keys"] == 3
    rows, _, _ = annotate(
        tmp_path,
        reference_dir,
        ["chr1 90 . A C . . .", "chr1 100 . A C . . .", "chr2 50 . A C . . ."],
        [tmp_path / "b"],
    )
    assert [r["GAS_DB_AF"] for r in rows] == ["0.2", "0.1", "0.5"]


def test_many_batches_and_threads_give_the_same_output(tmp_path, reference_dir, monkeypatch):
    rng = np.random.default_rng(3)
    pos = np.sort(rng.choice(np.arange(1000, 3_000_000), 20_000, replace=False))
    src_lines = [f"1 {p} . A {'CGT'[p % 3]} . . AF={p % 97 / 100}" for p in pos.tolist()]
    src = vcf(tmp_path / "s.vcf", src_lines)
    monkeypatch.setattr(sources, "BATCH_ROWS", 512)  # ~40 batches
    monkeypatch.setattr(sources, "CACHED_BATCHES", 2)
    m = build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AF"])
    assert m["counts"]["batches"] > 30
    inp = vcf(
        tmp_path / "in.vcf", [f"chr1 {p} . A {'CGT'[p % 3]},T . . ." for p in pos[::3].tolist()], ""
    )
    outs = []
    for threads in (1, 2):
        import annotator.vcf

        monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 8192)
        out = tmp_path / f"out{threads}.vcf"
        annotate_file(
            inp,
            out,
            tmp_path / "log",
            tmp_path / "s.json",
            build="GRCh38",
            reference_dir=reference_dir,
            sources=[tmp_path / "b"],
            threads=threads,
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    first = [ln for ln in outs[0].decode().splitlines() if not ln.startswith("#")][0]
    p0 = int(pos[0])
    want = str(np.float32(p0 % 97 / 100)).removesuffix(".0")
    t_is_alt = "CGT"[p0 % 3] == "T"
    assert f"GAS_DB_AF={want},{want if t_is_alt else '.'}" in first


def test_build_refuses_what_it_cannot_read(tmp_path):
    src = vcf(tmp_path / "s.vcf", ["1 100 . A C . . AF=x"])
    with pytest.raises(SourceError, match="no INFO field 'NOPE'"):
        build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["NOPE"])
    with pytest.raises(SourceError, match="not a number"):
        build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AF"])
    with pytest.raises(SourceError, match="not a source name"):
        build_source(src, tmp_path / "b", name="Bad-Name", build="GRCh38", fields=["AF"])
    with pytest.raises(SourceError, match="overlap is for BED"):
        build_source(src, tmp_path / "b", name="db", build="GRCh38", fields=["AF"], match="overlap")
    assert not (tmp_path / "b").exists()


def test_the_compact_form_records_its_provenance(tmp_path):
    src = vcf(tmp_path / "s.vcf", ["1 100 rs1 A C . . AF=0.5"])
    m = build_source(src, tmp_path / "b", name="db", build="GRCh37", fields=["AF"], version=4)
    held = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert held == m
    assert m["version"] == 4 and m["build"] == "GRCh37" and m["source"]["file"] == "s.vcf"
    assert len(m["source"]["sha256"]) == 64 and m["counts"] == {
        "records": 1,
        "alleles": 1,
        "keys": 1,
        "batches": 1,
    }
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "batches.npy",
        "manifest.json",
        "sites.arrow",
    ]


def test_a_source_of_another_build_is_not_used_and_the_log_says_so(tmp_path, reference_dir):
    src = vcf(tmp_path / "s.vcf", ["1 100 . A C . . AF=0.5"])
    build_source(src, tmp_path / "b", name="db", build="GRCh37", fields=["AF"])
    rows, result, _ = annotate(tmp_path, reference_dir, ["chr1 100 . A C . . ."], [tmp_path / "b"])
    assert "GAS_DB_AF" not in rows[0] and result.sources == []
    assert any("GRCh37, not GRCh38" in n for n in result.notes)


def test_the_tables_get_each_source_field_as_a_typed_column(tmp_path, reference_dir):
    import pyarrow.parquet as pq

    from annotator import columns
    from annotator.outputs import write_outputs

    header = INFO + '##INFO=<ID=FL,Number=0,Type=Flag,Description="A flag">\n'
    src = vcf(
        tmp_path / "s.vcf",
        ["1 100 rs7 A C,G . . AF=0.001,0.5;SIG=Pathogenic,Benign;AC=9,1,2;FL"],
        header,
    )
    build_source(
        src, tmp_path / "b", name="clinvar", build="GRCh38", fields=["AF", "SIG", "AC", "FL", "ID"]
    )
    _, _, out = annotate(tmp_path, reference_dir, ["chr1 100 . A G,T . . ."], [tmp_path / "b"])
    names = {
        k: f"t.{k}"
        for k in ("annotated_gz", "annotated_tbi", "annotated_csi", "tsv", "parquet", "genes")
    }
    made = write_outputs(out, tmp_path / "o", names)
    assert [c.name for c in made.source_columns] == [
        "clinvar_af",
        "clinvar_sig",
        "clinvar_ac",
        "clinvar_fl",
        "clinvar_id",
    ]
    table = pq.read_table(made.files["parquet"])
    assert str(table.schema.field("clinvar_af").type) == "float"
    assert str(table.schema.field("clinvar_ac").type) == "int64"
    assert str(table.schema.field("clinvar_fl").type) == "bool"
    rows = table.select([c.name for c in made.source_columns]).to_pylist()
    assert rows[0]["clinvar_sig"] == "Pathogenic,Benign" and rows[1]["clinvar_sig"] is None
    assert rows[0]["clinvar_ac"] == 2 and rows[0]["clinvar_id"] == "rs7"
    assert [r["clinvar_fl"] for r in rows] == [True, True]  # a flag is the record's
    cols, srcs = columns.source_columns_from_metadata(table.schema.metadata)
    assert cols == made.source_columns and srcs[0]["ID"] == "clinvar"
    tsv = made.files["tsv"].read_text().splitlines()
    assert tsv[0].endswith("\tclinvar_af\tclinvar_sig\tclinvar_ac\tclinvar_fl\tclinvar_id")
    assert tsv[1].endswith("\t0.5\tPathogenic,Benign\t2\t1\trs7")


def test_sources_whose_fields_would_collide_are_kept_apart(tmp_path, reference_dir) -> None:
    # GAS_GNOMAD_ is a prefix of GAS_GNOMAD_EXOMES_: each source's own fields are listed in its
    # ##GAS_source line, so the tables give each field to its own source.
    gnomad = vcf(tmp_path / "g.vcf", ["1 100 . A C . . AF=0.1"])
    exomes = vcf(tmp_path / "e.vcf", ["1 100 . A C . . AF=0.2"])
    build_source(gnomad, tmp_path / "g", name="gnomad", build="GRCh38", fields=["AF"])
    build_source(exomes, tmp_path / "e", name="gnomad_exomes", build="GRCh38", fields=["AF"])
    rows, result, out = annotate(
        tmp_path, reference_dir, ["chr1 100 . A C . . ."], [tmp_path / "g", tmp_path / "e"]
    )
    assert rows[0]["GAS_GNOMAD_AF"] == "0.1" and rows[0]["GAS_GNOMAD_EXOMES_AF"] == "0.2"
    from annotator import columns

    lines = [ln for ln in out.read_text().splitlines() if ln.startswith("##")]
    cols, _ = columns.source_columns_from_header(lines)
    assert [(c.name, c.source) for c in cols] == [
        ("gnomad_af", "gnomad"),
        ("gnomad_exomes_af", "gnomad_exomes"),
    ]
    # A second source writing the same field (here: the same name again) is left out, saying so.
    build_source(exomes, tmp_path / "g2", name="gnomad", build="GRCh38", fields=["AF"])
    rows, result, _ = annotate(
        tmp_path, reference_dir, ["chr1 100 . A C . . ."], [tmp_path / "g", tmp_path / "g2"]
    )
    assert rows[0]["GAS_GNOMAD_AF"] == "0.1" and len(result.sources) == 1
    assert any("would overwrite gnomad's" in n for n in result.notes)


def test_a_field_gas_writes_itself_is_refused(tmp_path) -> None:
    src = vcf(tmp_path / "s.vcf", ["1 100 . A C . . AF=0.5"], INFO.replace("ID=AF", "ID=GENE"))
    with pytest.raises(SourceError, match="which GAS writes itself"):
        build_source(src, tmp_path / "b", name="pick", build="GRCh38", fields=["GENE"])
    build_source(src, tmp_path / "b", name="pick", build="GRCh38", fields=["GENE"], prefix="PK")


def test_a_source_registered_for_both_builds_annotates_each_file_with_its_own(
    tmp_path, reference_dir
) -> None:
    src38 = vcf(tmp_path / "s38.vcf", ["1 100 . A C . . AF=0.38"])
    src37 = vcf(tmp_path / "s37.vcf", ["1 100 . A C . . AF=0.37"])
    build_source(src38, tmp_path / "b38", name="db", build="GRCh38", fields=["AF"])
    build_source(src37, tmp_path / "b37", name="db", build="GRCh37", fields=["AF"])
    rows, result, _ = annotate(
        tmp_path, reference_dir, ["chr1 100 . A C . . ."], [tmp_path / "b37", tmp_path / "b38"]
    )
    assert rows[0]["GAS_DB_AF"] == "0.38" and [s["build"] for s in result.sources] == ["GRCh38"]
