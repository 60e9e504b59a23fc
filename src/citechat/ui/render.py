"""HTML for the chat: answer messages with [n] markers and the sources panel. Every piece of article or user
text goes through `esc`/`md_esc`, so markup inside an article is shown as text and never runs."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from ..answer.types import CANNOT_ANSWER, NOT_IN_ARTICLES, Citation
from ..chat import Conversation, Turn
from ..ingest.metadata import display_date

_MD_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'*_`[]#|~\\$"})


def esc(text: Any) -> str:
    """Escape for HTML."""
    return html.escape(str(text), quote=True)


def md_esc(text: Any) -> str:
    """Escape for the chat's Markdown+HTML renderer (HTML and Markdown syntax both shown literally)."""
    return str(text).translate(_MD_ESCAPES)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (JavaScript string offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _sentence(text: str) -> str:
    """A reason as a sentence: capital first letter, closing full stop."""
    text = str(text).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "。")) else text + "."


def message_markdown(turn: Turn) -> str:
    """The assistant message: quoted sentences with clickable [n] markers, or the not-in-the-articles notice."""
    a = turn.answer
    if not a.answerable:
        link = f'<a class="cite" href="#cite-{turn.id}-1">closest matches</a>' if a.closest else "closest matches"
        why = f" {md_esc(_sentence(a.reason))}" if a.reason else ""
        see = f" See the {link} (not citations)." if a.closest or not why else ""
        return f"**{NOT_IN_ARTICLES}** {md_esc(CANNOT_ANSWER)}{why}{see}"
    notice = f"*{md_esc(a.notice)}*\n\n" if a.notice else ""
    parts = []
    if a.mode == "llm":
        for s in a.sentence_checks():
            if s.verified:
                marks = " ".join(f'<a class="cite" href="#cite-{turn.id}-{n}">[{n}]</a>' for n in s.citations)
                parts.append(f"{md_esc(s.text)} {marks}")
            else:
                parts.append(f'<span class="unverified" title="{esc(s.reason)}">⚠ unverified, not cited: '
                             f'<em>{md_esc(s.text)}</em></span>')
        return notice + " ".join(parts)
    for c in a.citations:
        parts.append(f'{md_esc(c.text)} <a class="cite" href="#cite-{turn.id}-{c.n}">[{c.n}]</a>')
    return notice + " ".join(parts)


def _context(text: str, start: int, end: int, width: int = 320) -> tuple[str, str, str]:
    """The paragraph around [start, end), clipped to `width` characters either side."""
    p_start = text.rfind("\n", 0, start) + 1
    p_end = text.find("\n", end)
    p_end = len(text) if p_end < 0 else p_end
    a, b = max(p_start, start - width), min(p_end, end + width)
    before, after = text[a:start], text[end:b]
    if a > p_start:
        before = "…" + before[before.find(" ") + 1:] if " " in before[:40] else "…" + before
    if b < p_end:
        after = (after[: after.rfind(" ")] if " " in after[-40:] else after) + "…"
    return before, text[start:end], after


def citation_check(turn: Turn, c: Citation, article: str | None,
                   hashes: dict[str, str] | None) -> tuple[bool, str]:
    """(highlight?, note) for a citation. Highlight only where the current text at [start:end] is the quoted
    sentence. `hashes`: the cited articles' current content hashes (None: not checked); an article missing from
    them is deleted, one whose hash differs from the turn's recorded one has changed since the answer."""
    fits = bool(article and article[c.start:c.end] == c.text)
    if hashes is not None and c.source not in hashes:
        return False, "This article has been deleted since this answer; the quoted sentence was:"
    recorded = turn.hashes.get(c.source)
    if hashes is not None and recorded and recorded != hashes[c.source]:
        if fits:
            return True, "This article has changed since this answer; the quoted sentence is still in it."
        return False, "This article has changed since this answer; the quoted sentence was:"
    if article and not fits:
        return False, "The article no longer has this sentence at this place; the quoted sentence was:"
    return fits or not article, ""


def _source_block(turn: Turn, c: Citation, article: str | None, closest: bool,
                  hashes: dict[str, str] | None = None) -> str:
    meta = " · ".join(esc(x) for x in (c.outlet, display_date(c.date), c.source) if x)
    label = "closest match" if closest else f"[{c.n}]"
    highlight, stale = citation_check(turn, c, article, hashes)
    if highlight and article:
        before, sent, after = _context(article, c.start, c.end)
    else:
        before, sent, after = "", c.text, ""
    opener = ""
    if article and highlight:
        s16 = utf16_len(article[: c.start])
        e16 = s16 + utf16_len(c.text)
        opener = (f'<button class="open-article" type="button" data-source="{esc(c.source)}" '
                  f'data-start="{s16}" data-end="{e16}">Open the whole article at this sentence</button>')
    if highlight:
        body = f'<p class="src-ctx">{esc(before)}<mark class="hl">{esc(sent)}</mark>{esc(after)}</p>{opener}'
    else:  # the stored quote, never marked inside text it may no longer match
        body = f'<blockquote class="src-quote">{esc(sent)}</blockquote>'
    cls = "src closest" if closest else "src"
    return (
        f'<div class="{cls}" id="src-{turn.id}-{c.n}" data-n="{c.n}">'
        f'<div class="src-head"><span class="src-n">{esc(label)}</span> <b class="src-title">{esc(c.title)}</b></div>'
        f'<div class="src-meta">{meta} · <span class="src-score">{esc(c.score_label)}</span></div>'
        + (f'<div class="src-note">{esc(c.note)}</div>' if c.note else "")
        + (f'<div class="src-stale">{esc(stale)}</div>' if stale else "") + f'{body}</div>'
    )


def panel_html(conv: Conversation, active: str | None, articles: dict[str, str],
               hashes: dict[str, str] | None = None) -> str:
    """Sources of every turn (only the active one visible), each with the paragraph around its sentence; the whole
    article is fetched from the app's `/article` API only when the user opens it. With `hashes` (the cited articles'
    current content hashes) citations are checked against `articles` (see `citation_check`)."""
    if not conv.turns:
        return '<div id="sources-panel"><p class="empty">Sources appear here. Click a [n] marker or an answer to see its sources.</p></div>'
    active = active or conv.turns[-1].id
    sections = []
    for t in conv.turns:
        a = t.answer
        hidden = "" if t.id == active else ' style="display:none"'
        if a.answerable:
            blocks = [_source_block(t, c, articles.get(c.source), False, hashes) for c in a.citations]
            head = f'<h4>Sources for: {esc(t.question[:200])}</h4>'
        elif a.closest:
            blocks = [_source_block(t, c, articles.get(c.source), True, hashes) for c in a.closest]
            head = (f'<h4>{esc(NOT_IN_ARTICLES)} Closest matches for: {esc(t.question[:200])}</h4>'
                    '<p class="closest-note">These passages are the nearest the articles come. They are not citations '
                    'and do not answer the question.</p>')
        else:  # nothing was retrieved (e.g. a follow-up to an unanswered question): say why instead
            blocks = []
            why = f'<p class="closest-note">{esc(_sentence(a.reason))}</p>' if a.reason else ""
            head = f'<h4>{esc(NOT_IN_ARTICLES)} No sources for: {esc(t.question[:200])}</h4>{why}'
        sections.append(f'<section class="turn" data-turn="{t.id}"{hidden}>{head}{"".join(blocks)}</section>')
    viewer = ('<div id="article-viewer" hidden><div class="viewer-bar"><b class="viewer-title"></b>'
              '<button class="viewer-close" type="button">Close</button></div><div class="viewer-body"></div></div>')
    return f'<div id="sources-panel">{"".join(sections)}{viewer}</div>'


def cited_sources(conv: Conversation) -> Iterable[str]:
    for t in conv.turns:
        for c in t.answer.citations + t.answer.closest:
            yield c.source


CSS = """
#sources-panel { max-height: 640px; overflow-y: auto; font-size: 0.95em; }
#sources-panel .src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 8px 0; }
#sources-panel .src.closest { border-style: dashed; opacity: 0.9; }
#sources-panel .src.flash { outline: 3px solid #f59e0b; }
#sources-panel .src-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin: 2px 0 6px; }
#sources-panel mark.hl, #article-viewer mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px; }
#sources-panel .closest-note { font-style: italic; }
#sources-panel .src-note { font-size: 0.85em; font-style: italic; margin-bottom: 4px; }
#sources-panel .open-article { font-size: 0.85em; text-decoration: underline; background: none; border: none; cursor: pointer; padding: 0; color: var(--link-text-color); }
#article-viewer { border: 2px solid var(--border-color-accent); border-radius: 8px; padding: 8px; margin-top: 10px; }
#article-viewer .viewer-bar { display: flex; justify-content: space-between; gap: 8px; }
#article-viewer .viewer-body { white-space: pre-wrap; max-height: 360px; overflow-y: auto; margin-top: 6px; }
a.cite { font-weight: 600; text-decoration: none; cursor: pointer; }
.unverified { color: var(--body-text-color-subdued); background: #fee2e2; border-radius: 3px; padding: 0 3px; }
#narrow-title { padding: 4px 8px; }
/* Phone widths: the columns stack (sources under the chat), [n] markers get a 24x24 px tap area, one scroller. */
@media (max-width: 640px) {
  a.cite { display: inline-block; min-width: 24px; min-height: 24px; line-height: 24px; padding: 0 3px;
           text-align: center; box-sizing: border-box; }
  #sources-panel { max-height: none; overflow-y: visible; }
  #export { flex-wrap: nowrap; }
  #export > * { min-width: 0 !important; }
}
"""

JS_HEAD = """
<script>
(() => {
  const panel = () => document.querySelector('#sources-panel');
  function showTurn(tid) {
    const p = panel(); if (!p) return null;
    let found = null;
    p.querySelectorAll('section.turn').forEach(s => {
      const on = s.dataset.turn === tid; s.style.display = on ? '' : 'none'; if (on) found = s;
    });
    return found;
  }
  function showSource(tid, n) {
    if (!showTurn(tid)) return;
    const el = document.getElementById('src-' + tid + '-' + n);
    if (!el) return;
    el.scrollIntoView({block: 'nearest'});
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), 1600);
  }
  async function articleText(source) {
    // the app's /article API (Gradio's call protocol: start a call, then read its event stream), relative to
    // the page so that it also works under a proxy's path prefix
    const base = location.href.replace(/[?#].*$/, '').replace(/[^/]*$/, '');
    const start = await fetch(base + 'gradio_api/call/article', {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({data: [source]})});
    if (!start.ok) throw new Error('the article could not be fetched (' + start.status + ')');
    const {event_id} = await start.json();
    const stream = await (await fetch(base + 'gradio_api/call/article/' + event_id)).text();
    const m = stream.match(/event: complete\\ndata: (.*)/);
    if (!m) throw new Error('the article could not be fetched');
    return JSON.parse(m[1])[0];
  }
  async function openArticle(source, start, end) {
    const p = panel(); if (!p) return;
    const viewer = p.querySelector('#article-viewer');
    if (!viewer) return;
    const body = viewer.querySelector('.viewer-body');
    viewer.querySelector('.viewer-title').textContent = source;
    body.textContent = 'Loading the article…';
    viewer.hidden = false;
    let text;
    try { text = await articleText(source); } catch (err) { body.textContent = String(err.message || err); return; }
    const mark = document.createElement('mark');
    mark.id = 'article-highlight';
    mark.textContent = text.slice(start, end);
    body.replaceChildren(document.createTextNode(text.slice(0, start)), mark, document.createTextNode(text.slice(end)));
    mark.scrollIntoView({block: 'center'});
  }
  window.citechat = {showTurn, showSource, openArticle};
  document.addEventListener('click', (e) => {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const cite = t.closest('a.cite');
    if (cite) {
      e.preventDefault(); e.stopPropagation();
      const m = (cite.getAttribute('href') || '').match(/#cite-([0-9a-f]+)-([0-9]+)/);
      if (m) showSource(m[1], m[2]);
      return;
    }
    const btn = t.closest('button.open-article');
    if (btn) { openArticle(btn.dataset.source, +btn.dataset.start, +btn.dataset.end); return; }
    if (t.closest('.viewer-close')) { const v = document.querySelector('#article-viewer'); if (v) v.hidden = true; return; }
    const src = t.closest('#sources-panel .src');
    if (src) { const b = src.querySelector('button.open-article'); if (b) b.click(); return; }
    const msg = t.closest('.message-row, .message');
    if (msg) {
      const any = msg.querySelector('a.cite');
      const m = any && (any.getAttribute('href') || '').match(/#cite-([0-9a-f]+)-/);
      if (m) showTurn(m[1]);
    }
  }, true);
})();
</script>
"""
