"""Reading a pack's documents as Markdown: every format, real files, clear errors."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfWriter

from graphwire.agents import load_pack
from graphwire.agents.documents import DOCUMENT_SUFFIXES, find_documents, outline, read_document
from graphwire.agents.retrieval import KnowledgeBase, chunk_markdown
from graphwire.transport.protocol.errors import ConfigurationError

HTMLPACK = Path(__file__).parent / "fixtures" / "htmlpack"


def tiny_pdf(*pages: list[str]) -> bytes:
    """A minimal PDF whose pages show the given lines in Helvetica, offsets computed."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        shown = " 0 -16 Td ".join(
            "({})Tj".format(line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)"))
            for line in lines
        )
        stream = f"BT /F1 12 Tf 72 720 Td {shown} ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- formats


def test_markdown_and_text_come_back_as_they_are(tmp_path: Path) -> None:
    markdown = "# Kettle\n\n## Descaling\n\nUse citric acid.\n"
    assert read_document(write(tmp_path / "a.md", markdown)) == markdown
    assert read_document(write(tmp_path / "b.markdown", markdown)) == markdown
    text = "Descaling\n\nUse citric acid, 2 spoons a litre.\n\nRinse twice.\n"
    assert read_document(write(tmp_path / "c.txt", text)) == text
    # a BOM and Windows line ends are how editors save files; neither is content
    windows = "\ufeffFirst paragraph.\r\n\r\nSecond paragraph.\r\n".encode()
    assert read_document(write(tmp_path / "d.TXT", windows)) == (
        "First paragraph.\n\nSecond paragraph.\n"
    )


def test_html_becomes_markdown_with_headings_lists_and_tables() -> None:
    text = read_document(HTMLPACK / "battery" / "charging.html")
    assert text == (
        "# Charging the battery\n\n"
        "The Aurora AX-500 battery charges with the **AC-4 charger** only.\n\n"
        "## Charging time\n\n"
        "A full charge from empty takes about 5.5 hours; 80 % is reached after 3 hours.\n\n"
        "## Charging temperatures\n\n"
        "| Condition | Minimum | Maximum |\n"
        "| --- | --- | --- |\n"
        "| Charging | 0 °C | 40 °C |\n"
        "| Riding | -10 °C | 50 °C |\n\n"
        "## Charger lights\n\n"
        "- Red: charging.\n"
        "- Green: full.\n"
        "- Blinking orange: the battery is too cold or too warm to charge.\n"
    )  # no script, style, navigation, footer, title or link targets


def test_html_pages_without_main_keep_articles_and_drop_site_chrome() -> None:
    text = read_document(HTMLPACK / "repairs" / "brakes.html")
    assert text.startswith("# Brake pads\n\nThe hydraulic disc brakes use resin pads")
    assert "1. Remove the wheel.\n2. Pull out the pad retaining pin" in text
    assert "## Bleeding the brakes" in text
    assert "Home" not in text and "repair guides" not in text


def test_an_html_page_without_h1_gets_its_title_as_heading(tmp_path: Path) -> None:
    text = read_document(HTMLPACK / "battery" / "storage" / "winter-storage.html")
    assert text.startswith("# Winter storage\n\nStore the AX-500 battery indoors")
    assert [h for h in outline(text)] == [
        (1, "Winter storage"),
        (2, "Topping up"),
        (2, "Where to store it"),
    ]
    untitled = write(tmp_path / "quick_start-guide.html", "<p>Press the button.</p>")
    assert read_document(untitled) == "# Quick start guide\n\nPress the button.\n"


def test_html_may_declare_its_charset_and_be_xhtml(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1252"><title>Café</title></head><body>'
    page += "<p>Crème brûlée — 4 €</p></body></html>"
    latin = write(tmp_path / "menu.html", page.encode("windows-1252"))
    assert read_document(latin) == "# Café\n\nCrème brûlée — 4 €\n"
    xhtml = '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
    xhtml += "<body><h1>Notes</h1><p>One.</p></body></html>"
    assert read_document(write(tmp_path / "notes.xhtml.htm", xhtml)) == "# Notes\n\nOne.\n"


def test_pdf_text_comes_page_by_page_under_the_file_name(tmp_path: Path) -> None:
    pdf = write(
        tmp_path / "owner-manual.pdf",
        tiny_pdf(["Charging", "Charge the battery (AX-500) for 5.5 hours."], ["Storage"]),
    )
    assert read_document(pdf) == (
        "# Owner manual\n\n"
        "## Page 1\n\nCharging\nCharge the battery (AX-500) for 5.5 hours.\n\n"
        "## Page 2\n\nStorage\n"
    )
    one = write(tmp_path / "leaflet.pdf", tiny_pdf(["Keep dry."]))
    assert read_document(one) == "# Leaflet\n\nKeep dry.\n"


# ---------------------------------------------------------------------------- errors


def _encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.txt", "caf\xe9".encode("latin-1"), r"is not UTF-8 text \(byte 0xe9 at offset 3\)"),
        ("page.html", b"<p>caf\xe9</p>", r"is not UTF-8 text"),
        ("page.htm", b'<meta charset="klingon"><p>x</p>', r"declares an unknown encoding"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Cat", r"is not a readable PDF"),
        ("empty.pdf", b"", r"is not a readable PDF: Cannot read an empty file"),
        ("locked.pdf", _encrypted_pdf(), r"is protected by a password"),
        ("report.docx", b"PK\x03\x04", r"does not read \.docx documents \(it reads \.md, "),
    ],
)
def test_a_file_that_cannot_be_read_gets_a_clear_error(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(ConfigurationError, match=reason) as caught:
        read_document(path)
    assert str(path) in caught.value.message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read .*gone\.md: No such file"):
        read_document(tmp_path / "gone.md")


# ---------------------------------------------------------------------------- the pack


def test_a_pack_lists_every_readable_document_sorted_and_not_hidden(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    shutil.copytree(Path(__file__).parent / "fixtures" / "minipack", root)
    write(root / "docs" / "manuals" / "Quick.PDF", tiny_pdf(["Quick start"]))
    write(root / "docs" / "manuals" / "faq.htm", "<h1>FAQ</h1>")
    write(root / "docs" / "notes.txt", "Notes")
    write(root / "docs" / "._notes.md", b"\x00\x05\x16\x07 resource fork")
    write(root / "docs" / ".git" / "README.md", "not a document")
    write(root / "docs" / "logo.png", b"\x89PNG")
    pack = load_pack(root)
    docs = [p.relative_to(pack.docs_dir).as_posix() for p in pack.documents()]
    assert docs == sorted(docs)
    assert {"manuals/Quick.PDF", "manuals/faq.htm", "notes.txt"} <= set(docs)
    assert not [d for d in docs if d.startswith(".") or "/." in d or d.endswith(".png")]
    assert all(Path(d).suffix.lower() in DOCUMENT_SUFFIXES for d in docs)
    assert find_documents(pack.docs_dir) == pack.documents()
    for path in pack.documents():  # every one of them reads as Markdown
        assert read_document(path).strip()


def test_a_knowledge_base_finds_a_heading_split_passage_of_an_html_page() -> None:
    chunks = []
    for path in find_documents(HTMLPACK):
        doc = path.relative_to(HTMLPACK).as_posix()
        chunks.extend(chunk_markdown(read_document(path), doc=doc))
    kb = KnowledgeBase(chunks)
    best = kb.search("charging temperature minimum maximum", k=3)[0]
    assert best.metadata["doc"] == "battery/charging.html"
    assert best.metadata["title"] == "Charging the battery › Charging temperatures"
    assert best.page_content.startswith("| Condition | Minimum | Maximum |")
    assert "window.analytics" not in " ".join(c.text for c in chunks)
    pads = kb.search("which brake pads", k=1)[0]
    assert pads.metadata["uri"] == "docs/repairs/brakes.html"
    assert "BP-22" in pads.page_content
