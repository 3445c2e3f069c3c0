"""The slide deck (survey/report/slides.py): read back with python-pptx, and rendered page by page
by LibreOffice where it is installed (Debian's libreoffice-impress, headless)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from matplotlib.image import imread
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from survey.report.slides import HEIGHT, WIDTH, ChartSlide, Deck, write_deck

MARK = (0.18, 0.49, 0.20)  # the chart's one colour: found again on the rendered page


def chart_png(path: Path) -> Path:
    """A 1920×1080 picture with a large block of MARK, like a report chart's bars."""
    figure = plt.figure(figsize=(16, 9), dpi=120)
    axes = figure.add_axes((0.1, 0.1, 0.8, 0.8))
    axes.barh([0, 1], [1.0, 0.6], color=[MARK])
    figure.savefig(path)
    plt.close(figure)
    return path


@pytest.fixture
def deck(tmp_path: Path) -> Deck:
    charts = [
        ChartSlide(
            f"Chart {i}: 長いタイトル", f"n = {i:,}", chart_png(tmp_path / f"c{i}.png"), "src"
        )
        for i in range(3)
    ]
    summary = [chart_png(tmp_path / "a.png"), chart_png(tmp_path / "b.png")]
    return Deck(
        "DMARC 2026-11", "snapshot 2026-11 · 2026-12-02", "Types A–F", summary, charts, "ja"
    )


def texts(slide) -> list[str]:
    return [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]


def pictures(slide) -> list:
    return [shape for shape in slide.shapes if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]


def test_the_deck_reads_back_16_9_with_a_chart_a_slide(deck: Deck, tmp_path: Path) -> None:
    path = write_deck(deck, tmp_path / "report.pptx")
    shown = Presentation(str(path))
    assert (shown.slide_width, shown.slide_height) == (WIDTH, HEIGHT)
    assert WIDTH * 9 == HEIGHT * 16
    slides = list(shown.slides)
    assert len(slides) == 2 + len(deck.charts)
    assert texts(slides[0]) == [deck.title, deck.subtitle] and not pictures(slides[0])
    assert len(pictures(slides[1])) == 2 and deck.summary_title in texts(slides[1])
    for slide, chart in zip(slides[2:], deck.charts, strict=True):
        assert texts(slide) == [chart.title, chart.subtitle, chart.footer]
        (picture,) = pictures(slide)
        assert abs(picture.width * 9 - picture.height * 16) <= 16  # the chart keeps 16:9
        assert picture.left >= 0 and picture.left + picture.width <= WIDTH
        assert picture.top >= 0 and picture.top + picture.height <= HEIGHT


def test_japanese_text_names_an_east_asian_font(deck: Deck, tmp_path: Path) -> None:
    slide = Presentation(str(write_deck(deck, tmp_path / "d.pptx"))).slides[2]
    xml = slide.shapes[0].text_frame._txBody.xml
    assert 'typeface="IPAexGothic"' in xml and 'lang="ja-JP"' in xml


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_libreoffice_renders_every_page_with_its_chart(deck: Deck, tmp_path: Path) -> None:
    path = write_deck(deck, tmp_path / "report.pptx")
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2 + len(deck.charts)
    assert marked_share(pages[0]) == 0  # the title page has no chart
    for page in pages[1:]:
        assert marked_share(page) > 0.02, page.name


def marked_share(page: Path) -> float:
    """The share of the page's pixels in the chart's colour."""
    pixels = imread(page)[..., :3]
    close = (abs(pixels - MARK) < 0.08).all(axis=-1)
    return float(close.mean())
