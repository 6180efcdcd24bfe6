"""The CJK font printed maps embed: real TrueType outlines, so every PDF reader accepts it."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pypdf
from fontTools.ttLib import TTFont

from geo.fonts import cjk_font_path, source_font_path, use_cjk_font


def embedded_font_files(pdf_bytes: bytes) -> list[tuple[str, bytes]]:
    """(key, data) of every font file embedded in a PDF."""
    out = []
    for page in pypdf.PdfReader(io.BytesIO(pdf_bytes)).pages:
        fonts = page["/Resources"]["/Font"]
        for ref in fonts.values():
            font = ref.get_object()
            for desc in font.get("/DescendantFonts", [font]):
                fd = desc.get_object().get("/FontDescriptor")
                if fd is None:
                    continue
                fd = fd.get_object()
                for key in ("/FontFile", "/FontFile2", "/FontFile3"):
                    if key in fd:
                        out.append((key, fd[key].get_object().get_data()))
    return out


def test_the_converted_font_has_truetype_outlines_for_every_glyph_of_the_source():
    source = TTFont(str(source_font_path()), lazy=True)
    converted = TTFont(str(cjk_font_path()), lazy=True)
    assert "CFF " in source and "glyf" not in source
    assert "glyf" in converted and "CFF " not in converted
    assert len(converted.getGlyphOrder()) == len(source.getGlyphOrder())
    cmap = converted.getBestCmap()
    for ch in "金坛区河湖长制滆湖溧阳丹金溧漕河":
        assert ord(ch) in cmap, ch


def test_a_pdf_embeds_a_truetype_subset_not_cff_labelled_as_truetype():
    family = use_cjk_font()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("金坛区河湖一张图 滆湖")
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    files = embedded_font_files(buf.getvalue())
    assert files, "no embedded font"
    cjk = [data for key, data in files if key == "/FontFile2"]
    assert cjk and all(data[:4] in (b"\x00\x01\x00\x00", b"true") for data in cjk)
    assert not any(data[:4] == b"OTTO" for _, data in files)
    text = pypdf.PdfReader(buf).pages[0].extract_text()
    assert "金坛区河湖一张图" in text and family.startswith("Noto Sans CJK")
