"""Reading a pack's documents, whatever their format, as Markdown.

The knowledge base splits documents on Markdown headings, so every format comes back as
Markdown: Markdown and plain text as they are, HTML converted (headings kept as ``#``, lists and
tables kept, scripts, styles and navigation dropped; the ``<title>`` becomes the ``#`` heading
when the page has no ``<h1>``), PDF as its text page by page under a ``# <file stem>`` heading.
Text files must be UTF-8; an HTML page may declare another charset.

Example:
    >>> read_document(Path("docs/care/descaling.html"))  # doctest: +SKIP
    '# Descaling\\n\\nDescale the kettle every month...'
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from markdownify import MarkdownConverter
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from graphwire.transport.protocol.errors import ConfigurationError

__all__ = [
    "DOCUMENT_SUFFIXES",
    "document_format",
    "find_documents",
    "human_name",
    "outline",
    "read_document",
]

MARKDOWN_SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = (".txt",)
HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
DOCUMENT_SUFFIXES = MARKDOWN_SUFFIXES + TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES
"""The file suffixes (in any case) a pack's ``docs/`` may hold."""

# Page furniture, not content: dropped before converting an HTML page.
_NOT_CONTENT = [
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "canvas",
    "nav",
    "form",
    "button",
    "select",
]
_HEADING = re.compile(r"^ {0,3}(?P<hashes>#{1,6})[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_CONVERTER = MarkdownConverter(
    heading_style="ATX",
    bullets="-",
    strip=["a", "img"],  # link text stays; URLs and images are noise to retrieval
    escape_asterisks=False,
    escape_underscores=False,
    table_infer_header=True,
)


def document_format(path: Path) -> str:
    """The format of a document by its suffix: ``markdown``, ``text``, ``html`` or ``pdf``.

    >>> document_format(Path("guide/Setup.HTM"))
    'html'
    """
    suffix = path.suffix.lower()
    for name, suffixes in (
        ("markdown", MARKDOWN_SUFFIXES),
        ("text", TEXT_SUFFIXES),
        ("html", HTML_SUFFIXES),
        ("pdf", PDF_SUFFIXES),
    ):
        if suffix in suffixes:
            return name
    raise ConfigurationError(
        f"{path}: graphwire does not read {suffix or 'files without a suffix'} documents "
        f"(it reads {', '.join(DOCUMENT_SUFFIXES)})"
    )


def find_documents(folder: Path) -> list[Path]:
    """Every document under ``folder`` (by :data:`DOCUMENT_SUFFIXES`), sorted, hidden files
    and folders skipped (``.git/``, macOS's ``._name.md``).

    >>> [p.name for p in find_documents(Path("docs"))]  # doctest: +SKIP
    ['descaling.html', 'faq.txt', 'manual.pdf']
    """
    found = []
    for path in folder.rglob("*"):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.suffix.lower() in DOCUMENT_SUFFIXES and path.is_file():
            found.append(path)
    return sorted(found)


def read_document(path: Path) -> str:
    """The text of the document at ``path`` as Markdown.

    Raises :class:`ConfigurationError` naming the file and the reason when it cannot be read
    (missing, not UTF-8, a broken or password-protected PDF, an unknown format).

    >>> read_document(Path("docs/faq.txt"))  # doctest: +SKIP
    'Can I descale with vinegar?\\n\\nYes, diluted 1:1.\\n'
    """
    kind = document_format(path)
    if kind == "pdf":
        return _read_pdf(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if kind == "html":
        return _html_to_markdown(data, path=path)
    return _normal_newlines(_decode(data, "utf-8-sig", path=path))


def outline(markdown: str) -> list[tuple[int, str]]:
    """The ATX headings of a Markdown text as ``(level, text)``, outside code fences.

    >>> outline("# Kettle\\n\\n## Descaling *monthly*\\n```\\n# not a heading\\n```")
    [(1, 'Kettle'), (2, 'Descaling monthly')]
    """
    headings: list[tuple[int, str]] = []
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            text = _LINK.sub(r"\1", match["text"])
            text = re.sub(r"[*_`]+", "", text).strip()
            if text:
                headings.append((len(match["hashes"]), text))
    return headings


def _decode(data: bytes, encoding: str, *, path: Path) -> str:
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise ConfigurationError(f"{path} declares an unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise ConfigurationError(
            f"{path} is not {encoding.removesuffix('-sig').upper()} text "
            f"(byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8"
        ) from exc


def _normal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def human_name(name: str) -> str:
    """A file or folder name as words: a document's title when it has no heading.

    >>> human_name("battery-care_guide")
    'Battery care guide'
    """
    words = re.sub(r"[-_\s]+", " ", name).strip()
    return words[:1].upper() + words[1:]


# ---------------------------------------------------------------------------- HTML


def _html_to_markdown(data: bytes, *, path: Path) -> str:
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    text = _decode(data, declared or "utf-8-sig", path=path)
    with warnings.catch_warnings():  # a tiny page or an XHTML one is still a page to read
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(text, "html.parser")
    title = ""
    if soup.title is not None:
        title = soup.title.get_text(" ", strip=True)
        soup.title.decompose()  # a page of only a <title> says nothing
    content = _content_root(soup)
    markdown = _CONVERTER.convert_soup(content)
    if content.find("h1") is None:
        markdown = f"# {title or human_name(path.stem) or path.name}\n\n{markdown}"
    markdown = re.sub(r"[ \t]+\n", "\n", _normal_newlines(markdown))
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"


def _content_root(soup: BeautifulSoup) -> Tag | BeautifulSoup:
    """The page's content: its ``<main>`` when it has one, else its body without the chrome."""
    for tag in soup.find_all(_NOT_CONTENT):
        tag.decompose()
    for tag in soup.find_all(True, attrs={"role": "navigation"}):
        tag.decompose()
    if soup.head is not None:
        soup.head.decompose()
    main = soup.find("main")
    if isinstance(main, Tag):
        return main
    # A site's header and footer sit outside any article; an article's own header is content.
    for tag in soup.find_all(["header", "footer"]):
        if tag.find_parent(["article", "main", "section"]) is None and tag.find("h1") is None:
            tag.decompose()
    return soup.body if soup.body is not None else soup


# ---------------------------------------------------------------------------- PDF


def _read_pdf(path: Path) -> str:
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ConfigurationError(f"{path} is protected by a password; save an open copy")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        # pypdf reports a damaged file with its own errors and, deep in a broken object
        # tree, with the builtin ones; all mean the same to the pack's author.
        raise ConfigurationError(
            f"{path} is not a readable PDF: {exc or type(exc).__name__}"
        ) from exc
    parts = [f"# {human_name(path.stem) or path.name}"]
    for number, text in enumerate(pages, start=1):
        if text:
            parts.append(f"## Page {number}\n\n{text}" if len(pages) > 1 else text)
    return _normal_newlines("\n\n".join(parts)) + "\n"
