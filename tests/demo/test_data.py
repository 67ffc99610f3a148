from xml.sax.saxutils import escape

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from demo.data import (
    chunk_paragraphs,
    lee_documents,
    prepare_demo_corpus,
    strip_wiki_markup,
    wiki_documents,
)

PROSE = (
    "Anarchism is a political philosophy that advocates self-governed societies based on "
    "voluntary institutions, often described as stateless societies. "
)

WIKITEXT = f"""{{{{Infobox |name={{{{nested|x}}}} }}}}'''Anarchism''' is a
[[political philosophy]] that advocates [[self-governance|self-governed]] societies.
<ref name="a">Cite</ref> {PROSE * 3}

== History ==
{{| class="wikitable"
| cell || cell
|}}
[[File:Flag.svg|thumb|A [[flag]] caption]]
{PROSE * 8}

{PROSE * 8}
[[Category:Political ideologies]]
"""

XML = f"""<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">
  <page><title>Anarchism</title><ns>0</ns><id>12</id><revision><text xml:space="preserve">
{escape(WIKITEXT)}</text></revision></page>
  <page><title>AccessibleComputing</title><ns>0</ns><id>10</id><redirect title="X" />
    <revision><text>#REDIRECT [[X]]</text></revision></page>
  <page><title>Talk:Anarchism</title><ns>1</ns><id>13</id>
    <revision><text>{PROSE * 10}</text></revision></page>
</mediawiki>"""


def test_markup_is_stripped():
    text = strip_wiki_markup(
        "{{a|{{b}}}}'''Bold''' [[x|shown]] and [[plain]].<ref>r</ref>"
        "[[File:F.png|thumb|cap [[y]]]] [http://e.com label]\n== Head =="
    )
    assert text == "Bold shown and plain. label\nHead"


def test_chunks_respect_bounds_and_keep_paragraphs_whole():
    paragraphs = [f"Paragraph {i}. " + "word " * (40 + 30 * (i % 5)) for i in range(40)]
    chunks = chunk_paragraphs(paragraphs, low=500, high=1200)
    assert all(len(c.encode()) <= 1200 for c in chunks)
    assert all(len(c.encode()) >= 500 for c in chunks[:-1])
    assert "\n\n".join(chunks) == "\n\n".join(paragraphs)


def test_wiki_pages_become_stable_ids_without_redirects_or_talk_pages():
    docs = list(wiki_documents(XML.encode()))
    assert [d["id"] for d in docs] == [f"wiki-00012-{i:03d}" for i in range(len(docs))]
    assert len(docs) >= 2 and all(d["source"] == "wikipedia" for d in docs)
    text = " ".join(d["text"] for d in docs)
    for leftover in ("{{", "[[", "<ref", "'''", "Category:", "caption", "wikitable"):
        assert leftover not in text
    assert "self-governed societies" in text


def test_lee_lines_become_documents():
    docs = list(lee_documents(b"First story.\n\nSecond \xa3 story.\n"))
    assert [d["id"] for d in docs] == ["lee-000", "lee-002"]


@pytest.mark.slow
def test_prepare_demo_corpus_from_the_real_wheel(tmp_path):
    path = prepare_demo_corpus(str(tmp_path / "demo"), str(tmp_path / "cache"))
    table = pq.read_table(path)
    size = pc.sum(pc.binary_length(table["text"])).as_py()
    assert 1000 <= table.num_rows <= 2500 and 1_500_000 <= size <= 2_500_000
    assert table.column_names == ["id", "text", "source"]
    assert pc.count_distinct(table["id"]).as_py() == table.num_rows
    assert set(table["source"].to_pylist()) == {"wikipedia", "lee-news"}
    mtime = (tmp_path / "demo" / "demo_corpus.parquet").stat().st_mtime_ns
    assert prepare_demo_corpus(str(tmp_path / "demo")) == path
    assert (tmp_path / "demo" / "demo_corpus.parquet").stat().st_mtime_ns == mtime
