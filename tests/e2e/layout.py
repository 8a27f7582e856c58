"""What a page must look like at any width, asked of the browser in one script.

``layout_problems(page)`` answers a list of sentences, empty when the page is fine:

- nothing scrolls sideways, neither the page nor a box inside it (a table's scroll box);
- no value column is squeezed: a ``<dd>`` is at least 8em wide, and a ``<td>`` narrower than
  that breaks no run of text (a 16 px value column once showed one letter a line);
- a date (「2025年10月26日」), a count of days (「(61日間)」), an amount (「7,672円」) or a volume
  (「32 m³」) never splits across lines, so a range can only break at 「〜」;
- no line starts with 「ー」, a small kana (「センタ|ー」) or closing punctuation (。、」) etc.),
  the rule of Japanese typesetting;
- a Japanese word in a heading, label, legend, term, table header, caption or button never
  splits across lines (「ロ|グイン」, 「(検針|票)」, 「含|む)」): words come from the browser's own
  dictionary (``Intl.Segmenter``); as it is coarser than ``word-break: auto-phrase`` phrases,
  a word may break where both pieces are words of two characters or more (「もう|一度」).
"""

from __future__ import annotations

from playwright.sync_api import Page

LAYOUT_JS = r"""
() => {
  const problems = [];
  const shown = (el) => el.getClientRects().length > 0 && !el.closest('.visually-hidden');
  const label = (el) => `${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''}`;
  // Lines a range covers: client rects that start below the bottom of the previous line.
  const lines = (range) => {
    const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0)
      .sort((a, b) => a.top - b.top);
    let count = 0, bottom = -Infinity;
    for (const r of rects) {
      if (r.top >= bottom - 1) { count += 1; bottom = r.bottom; }
      else bottom = Math.max(bottom, r.bottom);
    }
    return count;
  };
  const rangeOf = (node, start, end) => {
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    return range;
  };
  const textNodes = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const nodes = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const parent = n.parentElement;
      if (!parent || parent.closest('script, style, svg, option, .visually-hidden')) continue;
      if (n.data.trim()) nodes.push(n);
    }
    return nodes;
  };

  const doc = document.documentElement;
  if (doc.scrollWidth > innerWidth) {
    problems.push(`the page is ${doc.scrollWidth} px wide`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    const overflow = getComputedStyle(el).overflowX;
    if ((overflow === 'auto' || overflow === 'scroll') && el.scrollWidth > el.clientWidth
        && shown(el)) {
      problems.push(`${label(el)} scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px)`);
    }
  }
  // A value beside its term is never narrower than 8em. A table cell may wrap between the
  // pieces it is made of (「+10 m³」「(+23%)」), but narrower than 8em it may not break a run.
  for (const el of document.body.querySelectorAll('dd, td')) {
    if (!shown(el) || !el.textContent.trim()) continue;
    const em = parseFloat(getComputedStyle(el).fontSize);
    const width = el.getBoundingClientRect().width;
    if (width >= 8 * em) continue;
    const broken = textNodes(el).some((n) => lines(rangeOf(n, 0, n.data.length)) > 1);
    if (el.tagName === 'DD' || broken) {
      problems.push(`${label(el)} is squeezed to ${Math.round(width)} px: `
        + `「${el.textContent.trim().slice(0, 24)}」`);
    }
  }
  const whole = /\d{4}年\d{1,2}月\d{1,2}日|\(\d+日間\)|[+\u2212±]?\d[\d,]*(?:\.\d+)? ?(?:円|m³)/g;
  for (const node of textNodes(document.body)) {
    for (const m of node.data.matchAll(whole)) {
      if (lines(rangeOf(node, m.index, m.index + m[0].length)) > 1) {
        problems.push(`「${m[0]}」 is split across lines in ${label(node.parentElement)}`);
      }
    }
  }
  // 行頭禁則: no line of any text starts with a long-vowel mark, a small kana (「センタ|ー」) or
  // closing punctuation (「。」「、」「」」「)」「:」…), the rules of Japanese typesetting.
  const noStart = /[ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ。、，．・：；？！」』）)〕］\]｝}〉》】〙〗〟’”ゝゞヽヾ々〜]/g;
  for (const node of textNodes(document.body)) {
    for (const m of node.data.matchAll(noStart)) {
      if (m.index === 0) continue;
      if (lines(rangeOf(node, m.index - 1, m.index + 1)) > 1) {
        problems.push(`a line starts with 「${m[0]}」 in ${label(node.parentElement)}: `
          + `「${node.data.slice(Math.max(0, m.index - 8), m.index + 4)}」`);
      }
    }
  }
  const japanese = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}]/u;
  const words = new Intl.Segmenter('ja', { granularity: 'word' });
  // A word that spans lines, cut where the lines change (「ロ|グイン」).
  const piecesOnLines = (node, start, word) => {
    const pieces = [];
    let piece = '', top = null;
    for (let i = 0; i < word.length; i++) {
      const rect = rangeOf(node, start + i, start + i + 1).getBoundingClientRect();
      if (top !== null && rect.top >= top + rect.height / 2) { pieces.push(piece); piece = ''; }
      if (piece === '') top = rect.top;
      piece += word[i];
    }
    return [...pieces, piece];
  };
  // The dictionary's words are coarse (「もう一度」 is one): a piece that is a word of its own
  // of two characters or more (「もう|一度」「ポータル|サイト」) is a fair place to break.
  const isWord = (piece) => {
    const found = [...words.segment(piece)];
    return piece.length >= 2 && found.length === 1 && found[0].isWordLike;
  };
  const headed = 'h1, h2, h3, label, legend, dt, th, caption, button, .button, .site-name';
  for (const el of document.body.querySelectorAll(headed)) {
    for (const node of textNodes(el)) {
      if (node.parentElement.closest(headed) !== el) continue;  // checked with its own element
      for (const s of words.segment(node.data)) {
        if (!s.isWordLike || s.segment.length < 2 || !japanese.test(s.segment)) continue;
        if (lines(rangeOf(node, s.index, s.index + s.segment.length)) < 2) continue;
        const pieces = piecesOnLines(node, s.index, s.segment);
        if (!pieces.every(isWord)) {
          problems.push(`the word 「${s.segment}」 is split 「${pieces.join('|')}」 in ${label(el)}: `
            + `「${el.textContent.trim().slice(0, 40)}」`);
        }
      }
    }
  }
  return problems;
}
"""


def layout_problems(page: Page) -> list[str]:
    """Return what is wrong with the page's layout at the current viewport (empty: nothing)."""
    return page.evaluate(LAYOUT_JS)
