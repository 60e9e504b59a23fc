"""Sentence splitting (English and Chinese) and small chunks, as a llama-index node parser.

Each node is one sentence: the unit that is embedded, searched and cited. Its metadata names the small
chunk (a few neighbouring sentences) it belongs to, which is the context shown around a citation.
All offsets index into `Article.text`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, NodeRelationship, TextNode

from ..language import CJK_RE
from .loading import Article

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "co", "ltd", "inc", "corp", "no", "vs", "etc", "e.g",
    "i.e", "u.s", "u.k", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "gen", "gov", "sen", "rep", "dept", "fig", "approx", "est", "mt", "ft",
}
_CJK_END = "。！？!?；…"
_CLOSERS = "\"'”’」』）)】]"
# Candidate boundary: terminal punctuation (plus closing quotes/brackets).
_BOUNDARY = re.compile(rf"([.!?;。！？；]|…{{1,2}}|\.{{3}})[{re.escape(_CLOSERS)}]*")
_MAX_SENTENCE = 600  # longer sentences are split again at ; , or ，
# A Chinese sentence (ending in 。！？；) is one unit, like an English one: cutting it into clauses loses the number
# or the subject that the next clause holds. Chinese packs about three times more into a character, so the cap
# for a run-on Chinese sentence is lower.
_MAX_CJK_SENTENCE = 240


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _is_boundary(text: str, m: re.Match) -> bool:
    punct = m.group(1)
    end = m.end()
    nxt = text[end] if end < len(text) else ""
    if punct in _CJK_END or punct[0] in "。！？；…":
        return True
    if punct == ";":
        return False  # only used when splitting over-long sentences
    if nxt == "" or nxt.isspace():
        if punct == "." and not nxt == "":
            word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", text[max(0, m.start() - 12): m.start() + 1])
            if word and word.group(1).lower() in _ABBREVIATIONS:
                return False
            if word and len(word.group(1)) == 1 and word.group(1).isupper():
                return False  # an initial: "J. Smith"
        return True
    prev = text[m.start() - 1] if m.start() > 0 else ""
    if punct == ".":
        if prev.isdigit() and nxt.isdigit():
            return False  # 3.5
        if nxt.isupper() or nxt in "“\"‘(" or bool(CJK_RE.match(nxt)):
            # "on the spot.At the beginning" (no space after the period), but not "U.S.A" or "e.g.Foo"
            word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", text[max(0, m.start() - 12): m.start() + 1])
            if word and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1).replace(".", "")) <= 1):
                return False
            return prev.isalnum() or prev in _CLOSERS or prev in "%"
        return False
    # ! or ? glued to the next sentence
    return nxt.isupper() or nxt in "“\"‘" or bool(CJK_RE.match(nxt))


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def _limit(seg: str) -> int:
    return _MAX_CJK_SENTENCE if len(CJK_RE.findall(seg)) >= len(seg) * 0.5 else _MAX_SENTENCE


def _split_long(text: str, span: Span) -> list[Span]:
    """Split an over-long sentence at ; or , (nearest to the middle), recursively."""
    seg = text[span.start: span.end]
    limit = _limit(seg)
    if len(seg) <= limit:
        return [span]
    best = None
    margin = limit // 15
    for pattern in (r"[;；](?=\S|\s)", r"[,，、](?=\s?\S)"):
        cuts = [m.end() for m in re.finditer(pattern, seg) if margin <= m.end() <= len(seg) - margin]
        if cuts:
            mid = len(seg) / 2
            best = min(cuts, key=lambda c: abs(c - mid))
            break
    if best is None:
        return [span]
    out: list[Span] = []
    for a, b in ((span.start, span.start + best), (span.start + best, span.end)):
        s = _trim(text, a, b)
        if s:
            out.extend(_split_long(text, s))
    return out


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`: English (also "spot.At" with no space) and Chinese (。！？)."""
    spans: list[Span] = []
    for para in re.finditer(r"[^\n]+", text):
        p_start, p_text = para.start(), para.group(0)
        cursor = 0
        for m in _BOUNDARY.finditer(p_text):
            if m.end() <= cursor or not _is_boundary(p_text, m):
                continue
            s = _trim(text, p_start + cursor, p_start + m.end())
            if s:
                spans.append(s)
            cursor = m.end()
        s = _trim(text, p_start + cursor, p_start + len(p_text))
        if s:
            spans.append(s)
    return [piece for s in spans for piece in _split_long(text, s)]


def group_chunks(spans: Sequence[Span], max_sentences: int, max_chars: int) -> list[list[int]]:
    """Group consecutive sentence indices into small chunks (never splitting a sentence)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    for i, s in enumerate(spans):
        if current and (
            len(current) >= max_sentences or s.end - spans[current[0]].start > max_chars
        ):
            chunks.append(current)
            current = []
        current.append(i)
    if current:
        chunks.append(current)
    return chunks


class SentenceChunkParser(NodeParser):
    """llama-index node parser: one TextNode per sentence, tagged with its chunk and exact offsets."""

    max_sentences_per_chunk: int = 3
    max_chunk_chars: int = 600
    include_metadata: bool = False  # don't copy the document's metadata into every sentence (kept per article)
    include_prev_next_rel: bool = False

    @classmethod
    def class_name(cls) -> str:
        return "SentenceChunkParser"

    def article_nodes(self, article: Article) -> list[TextNode]:
        spans = split_sentences(article.text)
        chunks = group_chunks(spans, self.max_sentences_per_chunk, self.max_chunk_chars)
        nodes: list[TextNode] = []
        for c, members in enumerate(chunks):
            c_start, c_end = spans[members[0]].start, spans[members[-1]].end
            for i in members:
                s = spans[i]
                # Lean per-sentence metadata; title, outlet and date live once in the article record.
                meta: dict[str, Any] = {
                    "source": article.source,
                    "content_hash": article.content_hash,
                    "sentence": i,
                    "start": s.start,
                    "end": s.end,
                    "chunk": c,
                    "chunk_start": c_start,
                    "chunk_end": c_end,
                }
                node = TextNode(
                    id_=f"{article.content_hash[:16]}:{i}",
                    text=article.text[s.start: s.end],
                    metadata=meta,
                    start_char_idx=s.start,
                    end_char_idx=s.end,
                    excluded_embed_metadata_keys=list(meta),
                    excluded_llm_metadata_keys=list(meta),
                )
                node.relationships[NodeRelationship.SOURCE] = _source_ref(article)
                nodes.append(node)
        return nodes

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> list[BaseNode]:
        out: list[BaseNode] = []
        for doc in nodes:
            meta = doc.metadata
            article = Article(
                source=meta.get("source", doc.node_id), text=doc.get_content(), title=meta.get("title", ""),
                outlet=meta.get("outlet") or None, date=meta.get("date") or None,
            )
            out.extend(self.article_nodes(article))
        return out


def _source_ref(article: Article):
    from llama_index.core.schema import RelatedNodeInfo

    return RelatedNodeInfo(node_id=article.source, metadata={"content_hash": article.content_hash})
