"""Real English text for the demo, built at set-up from the gensim 4.4.0 wheel's test data.

Nothing is committed: the wheel is fetched with ``pip download`` (from the configured package
index) and read as a zip. It holds a 2016 English Wikipedia XML fragment (206 pages) and the
Lee news corpus (300 documents). Wikipedia articles are stripped of wiki markup and packed
into ~1-2.5 KB chunks of whole paragraphs; each news article is one document.
"""

import bz2
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.storage import exists, resolve

GENSIM = "gensim==4.4.0"
WIKI_MEMBER = (
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)
LEE_MEMBER = "gensim/test/test_data/lee_background.cor"
DEMO_FILE = "demo_corpus.parquet"
MIN_CHUNK, MAX_CHUNK = 1000, 2500
MAX_CHUNKS_PER_PAGE = 10
SKIP_LINKS = ("file:", "image:", "category:", "media:")


class DemoDataError(RuntimeError):
    """The demo text could not be fetched or read."""


def fetch_gensim_wheel(cache_dir: str) -> Path:
    """The gensim wheel in ``cache_dir``, downloaded with pip when absent."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("gensim-4.4.0-*.whl"))
    if found:
        return found[0]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        GENSIM,
        "--no-deps",
        "--only-binary",
        ":all:",
        "-d",
        str(cache),
        "-q",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(cache.glob("gensim-4.4.0-*.whl"))
    if result.returncode != 0 or not found:
        raise DemoDataError(
            f"could not download {GENSIM} (the demo text ships inside that wheel): "
            f"{result.stderr.strip()[-500:]}\nFix: make a package index reachable (pip config, "
            f"PIP_INDEX_URL) or put the wheel into {cache} by hand: "
            f"pip download {GENSIM} --no-deps --only-binary :all: -d {cache}"
        )
    return found[0]


def _strip_nested(text: str, pattern: str) -> str:
    """Remove innermost matches repeatedly so nested templates/tables disappear."""
    regex = re.compile(pattern, re.S)
    while True:
        text, count = regex.subn("", text)
        if not count:
            return text


def _link(match: re.Match) -> str:
    inner = match.group(1)
    if inner.lower().lstrip(":").startswith(SKIP_LINKS):
        return ""
    return inner.split("|")[-1]


def strip_wiki_markup(text: str) -> str:
    """Plain paragraphs from wikitext: templates, tables, refs, files and markup removed."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<ref[^>/]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.S)
    text = _strip_nested(text, r"\{\{[^{}]*\}\}")
    text = _strip_nested(text, r"\{\|(?:(?!\{\|).)*?\|\}")
    link = re.compile(r"\[\[([^\[\]]*)\]\]")
    while True:
        text, count = link.subn(_link, text)
        if not count:
            break
    text = re.sub(r"\[https?://\S+ ([^\]]*)\]", r"\1", text)
    text = re.sub(r"\[https?://\S+\]", "", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"'{2,}", "", text)
    text = re.sub(r"^=+\s*(.*?)\s*=+\s*$", r"\1", text, flags=re.M)
    text = re.sub(r"^[*#:;]+\s*", "", text, flags=re.M)
    text = text.replace("&nbsp;", " ").replace("&amp;", "&").replace("&ndash;", "-")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(lines)


def _paragraphs(text: str) -> list[str]:
    """Paragraphs with some prose (drops headings, lists of links and leftovers)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in paragraphs if len(p) >= 80 and p.count(" ") >= 10]


def chunk_paragraphs(
    paragraphs: list[str], low: int = MIN_CHUNK, high: int = MAX_CHUNK
) -> list[str]:
    """Pack whole paragraphs into chunks of ``low``..``high`` bytes; split longer ones at
    sentence ends. A short tail joins the previous chunk when it fits."""
    pieces: list[str] = []
    for paragraph in paragraphs:
        pieces.extend(_split_long(paragraph, high))
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}\n\n{piece}" if current else piece
        if current and len(current.encode()) >= low and len(candidate.encode()) > high:
            chunks.append(current)
            current = piece
        else:
            current = candidate
    if current:
        if (
            chunks
            and len(current.encode()) < low
            and len(chunks[-1].encode()) + len(current.encode()) <= high
        ):
            chunks[-1] = f"{chunks[-1]}\n\n{current}"
        elif len(current.encode()) >= low // 4:
            chunks.append(current)
    return chunks


def _split_long(paragraph: str, high: int) -> list[str]:
    if len(paragraph.encode()) <= high:
        return [paragraph]
    sentences = re.split(r"(?<=[.!?])\s+", paragraph)
    out, current = [], ""
    for sentence in sentences:
        candidate = f"{current} {sentence}" if current else sentence
        if current and len(candidate.encode()) > high * 3 // 4:
            out.append(current)
            current = sentence
        else:
            current = candidate
    return out + ([current] if current else [])


def wiki_documents(xml_bytes: bytes) -> Iterator[dict]:
    """Documents from a MediaWiki XML export: main namespace, no redirects."""
    root = ET.fromstring(xml_bytes)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    for page in root.iter(f"{ns}page"):
        if page.findtext(f"{ns}ns") != "0" or page.find(f"{ns}redirect") is not None:
            continue
        page_id = int(page.findtext(f"{ns}id"))
        text = page.findtext(f"{ns}revision/{ns}text") or ""
        chunks = chunk_paragraphs(_paragraphs(strip_wiki_markup(text)))
        for number, chunk in enumerate(chunks[:MAX_CHUNKS_PER_PAGE]):
            yield {"id": f"wiki-{page_id:05d}-{number:03d}", "text": chunk, "source": "wikipedia"}


def lee_documents(raw: bytes) -> Iterator[dict]:
    """One document per non-empty line of the Lee background corpus."""
    lines = raw.decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines):
        if line.strip():
            yield {"id": f"lee-{number:03d}", "text": line.strip(), "source": "lee-news"}


def build_demo_table(wheel: Path) -> pa.Table:
    """The demo corpus as a table (id, text, source) from the gensim wheel."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            wiki = bz2.decompress(archive.read(WIKI_MEMBER))
            lee = archive.read(LEE_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DemoDataError(
            f"{wheel} is not the expected gensim 4.4.0 wheel ({exc}); delete "
            "it and run again to download a fresh copy"
        ) from exc
    rows = list(wiki_documents(wiki)) + list(lee_documents(lee))
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())]),
    )


def prepare_demo_corpus(dest_dir: str, cache_dir: str | None = None) -> str:
    """Write ``<dest_dir>/demo_corpus.parquet`` once (idempotent) and return its path/URI."""
    target = resolve(dest_dir).join(DEMO_FILE)
    if exists(target):
        return target.uri
    cache = cache_dir or os.path.join(tempfile.gettempdir(), "curation-demo-cache")
    table = build_demo_table(fetch_gensim_wheel(cache))
    partial = resolve(dest_dir).join(f".{DEMO_FILE}.partial")
    if not partial.is_s3:
        partial.fs.create_dir(resolve(dest_dir).path, recursive=True)
    pq.write_table(table, partial.path, filesystem=partial.fs)
    partial.fs.move(partial.path, target.path)
    return target.uri
