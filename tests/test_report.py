"""Report folders: charts, CSV tables and a report.md whose every link exists; untrusted record
text defused in CSV and escaped in Markdown."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from PIL import Image
from snapshot_factory import SAMPLE, later_sample, without_weights, write_snapshot
from test_tally import NAMING

from survey.errors import InputError, SnapshotError
from survey.report import write as report
from survey.report.labels import category_label

LINK = re.compile(r"\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapshots")
    write_snapshot(root, "2026-01", SAMPLE)
    write_snapshot(root, "2026-02", later_sample())
    write_snapshot(root, "2026-03", without_weights(SAMPLE), status="interrupted")
    write_snapshot(root, "2027-01", SAMPLE, version=2)
    return root


@pytest.fixture(scope="module")
def english(snapshots: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-en")
    return report.write_report(snapshots / "2026-01", out, top=3, naming=NAMING)


def links(md: Path) -> list[str]:
    return LINK.findall(md.read_text(encoding="utf-8"))


def test_report_links_exist(english: Path) -> None:
    found = links(english)
    assert "charts/types_domains.png" in found
    assert "charts/types_top_volume.svg" in found
    assert "tables/dmarc_problems_volume.csv" in found
    for link in found:
        assert (english.parent / link).is_file(), link


def test_report_has_every_table_in_both_modes(english: Path) -> None:
    csvs = sorted(p.stem for p in (english.parent / "tables").glob("*.csv"))
    # 15 tables (3 of RFC 9989), the 3 of the SPF evaluation (issue 17), the 2 other and the
    # top cut, by 2 units
    assert len(csvs) == 42
    pngs = sorted((english.parent / "charts").glob("*.png"))
    assert len(pngs) == len(list((english.parent / "charts").glob("*.svg"))) == 42
    text = english.read_text(encoding="utf-8")
    assert "## SPF: DNS lookups of the whole include tree (limit 10)" in text
    with Image.open(pngs[0]) as image:
        assert image.size == (1920, 1080)


def test_report_shows_numbers(english: Path) -> None:
    text = english.read_text(encoding="utf-8")
    assert "| A  DMARC valid + SPF | 3 | 30.0% |" in text
    assert "| A  DMARC valid + SPF | 1,500 | 77.3% |" in text
    assert "n = 10, unresolved 2 (left out of the shares), of 12." in text


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_defuses_formulas(english: Path) -> None:
    tables = english.parent / "tables"
    rows = read_csv(tables / "dmarc_problems_domains.csv")
    example = next(r for r in rows if r["code"] == "rua_invalid")["example_record"]
    assert example.startswith("'=cmd|")
    assert [r["all"] for r in read_csv(tables / "spf_all_domains.csv")][:4] == [
        "'-all",
        "~all",
        "?all",
        "'+all",
    ]
    assert read_csv(tables / "types_domains.csv")[0] == {"type": "A", "count": "3", "share": "0.3"}


def test_problem_tables_show_labels_and_keep_codes(english: Path) -> None:
    """The CSV keeps the code and has its label beside it; report.md shows the label with the
    code after it (to find it in the README and the CSV)."""
    rows = read_csv(english.parent / "tables" / "dmarc_problems_domains.csv")
    assert list(rows[0])[:2] == ["code", "label"]
    for row in rows:
        assert row["label"] == category_label("dmarc_problems", row["code"], "en")
        assert row["label"] != row["code"]
    row = next(r for r in rows if r["code"] == "p_invalid")
    assert f"| {row['label']} (p\\_invalid) |" in english.read_text(encoding="utf-8")


def test_markdown_escapes_record_text(english: Path) -> None:
    text = english.read_text(encoding="utf-8")
    assert "<b>" not in text and "`x`" not in text
    line = next(ln for ln in text.splitlines() if "l.example" in ln and "rua" in ln)
    assert line.count("|") - line.count("\\|") == 7  # six cells: the record's | is escaped
    assert "v=DMARC1; p=none\\nv=DMARC1; p=reject" in text


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("<script>", "&lt;script&gt;"),
        ("`code`", "&#96;code&#96;"),
        ("a\nb\r", "a\\nb\\r"),
        ("nul\x00 del\x7f c1\x85", "nul\\x00 del\\x7f c1\\x85"),
        ("_dmarc.*[x]", "\\_dmarc.\\*\\[x\\]"),
        ("&lt;", "&amp;lt;"),
    ],
)
def test_md_escape(text: str, escaped: str) -> None:
    assert report.md_escape(text) == escaped


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-all", "'-all"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("v=DMARC1", "v=DMARC1"), (12, 12), (None, None)],
)  # fmt: skip
def test_csv_safe(cell: object, safe: object) -> None:
    assert report.csv_safe(cell) == safe


def test_incomplete_snapshot_refused_unless_allowed(snapshots: Path, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="'interrupted', not 'complete'"):
        report.write_report(snapshots / "2026-03", tmp_path, naming=NAMING)
    md = report.write_report(
        snapshots / "2026-03", tmp_path, formats=("png",), allow_incomplete=True, naming=NAMING
    )
    assert "status: interrupted" in md.read_text(encoding="utf-8")


def test_other_schema_version_refused(snapshots: Path, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="schema version 2"):
        report.write_report(snapshots / "2027-01", tmp_path, naming=NAMING)


def test_japanese_report_without_volume(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path / "snaps", "2026-01", without_weights(SAMPLE))
    md = report.write_report(folder, tmp_path / "out", lang="ja", formats=("png",), naming=NAMING)
    text = md.read_text(encoding="utf-8")
    assert "入力に流通数がないため" in text
    assert "| あり(正常) | 5 | 45.5% |" in text
    assert not list((tmp_path / "out" / "charts").glob("*_volume.png"))
    for link in links(md):
        assert (md.parent / link).is_file(), link


def test_trend_folder(snapshots: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md = report.write_trend(snapshots, tmp_path, formats=("png",))
    text = md.read_text(encoding="utf-8")
    assert "skipped 2026-03" in text and "skipped 2027-01" in text
    assert "note: skipped 2027-01" in capsys.readouterr().err
    assert "| n | 10 | 9 |" in text
    assert "| A  DMARC valid + SPF | 30.0% (3) | 44.4% (4) |" in text
    found = links(md)
    assert "charts/types_volume.png" in found and "tables/domain_counts.csv" in found
    for link in found:
        assert (md.parent / link).is_file(), link


@pytest.mark.parametrize(
    ("options", "message"),
    [({"formats": ("gif",)}, "chart format"), ({"lang": "fr"}, "language")],
)
def test_bad_options(snapshots: Path, tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        report.write_report(snapshots / "2026-01", tmp_path, naming=NAMING, **options)


def test_default_host_naming(snapshots: Path, tmp_path: Path) -> None:
    pytest.importorskip("survey.verdict.vendors")
    pytest.importorskip("survey.verdict.psl")
    folder = write_snapshot(tmp_path / "snaps", "2026-01", without_weights(SAMPLE))
    md = report.write_report(folder, tmp_path / "out", formats=("png",))
    assert (md.parent / "tables" / "rua_other_domains.csv").is_file()
