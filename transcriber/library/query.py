"""What a user types into the search box, as an SQLite FTS5 query, and which word of a hit matched.

A query is words and ``"quoted phrases"``; a word ending in ``*`` matches every word it begins (``budg*``). Every
term must occur. Each term is passed to FTS5 as a quoted string, so nothing a user types (``AND``, ``NEAR``, ``:``,
``-``, unbalanced quotes) is ever read as FTS5 syntax. Matching ignores case and accents: the index holds every
text as :func:`fold` makes it (``search_fold`` in SQL, schema 6), the query's words are folded the same way, and the
hit's word and :func:`snippet` are found with it in Python. SQLite's own tokenizer only lower-cases, so without that
"Straße" and "strasse", or a Greek word ending in "ς" and in "σ", would never find each other. Japanese and Chinese
are searched character by character (:data:`SPACELESS_CHARS`, schema 8): written without spaces, a sentence would
otherwise be one word.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

SPACELESS_CHARS = "\u3005-\u3007\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff" \
                  "\U00020000-\U0003134f"
"""Kanji, hanzi and kana: Japanese and Chinese put no spaces between words, so each of these characters is a word
to search (a query's run of them a phrase: "予算" is found in "会議は予算について")."""
SPACELESS = re.compile(f"[{SPACELESS_CHARS}]")
TOKEN = re.compile(f"[{SPACELESS_CHARS}]|(?:(?![{SPACELESS_CHARS}])\\w)+", re.UNICODE)
TERM = re.compile(r'"([^"]*)"?|(\S+)')
PREFIX_MARK = "*"
SNIPPET_MARK = "**"
"""Around the words of a snippet that matched (a phrase is marked whole)."""
SNIPPET_ELLIPSIS = "…"
"""Where a snippet cuts its passage."""
SNIPPET_TOKENS = 16
"""The most words a snippet shows."""


@dataclass(frozen=True)
class Term:
    """One search term: a word, a prefix (``budg*``) or a phrase (``"the budget"``), as folded tokens."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def fts(self) -> str:
        """The term in FTS5 syntax: a quoted string, with ``*`` after it for a prefix."""
        quoted = '"' + " ".join(self.tokens) + '"'
        return f"{quoted} {PREFIX_MARK}" if self.prefix else quoted

    def matches_at(self, words: list[str], index: int) -> bool:
        """Whether the folded ``words`` match this term starting at ``index``."""
        if index + len(self.tokens) > len(words):
            return False
        *whole, last = self.tokens
        if any(words[index + offset] != token for offset, token in enumerate(whole)):
            return False
        word = words[index + len(whole)]
        return word.startswith(last) if self.prefix else word == last


def fold(text: str) -> str:
    """``text`` lower-cased with accents removed (``"Évian"`` -> ``"evian"``), as the index compares words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def index_text(text: str) -> str:
    """``text`` as the search index holds it (``search_fold`` in SQL): folded (:func:`fold`), with a space around each
    :data:`SPACELESS_CHARS` character, so SQLite's tokenizer splits it where :func:`tokens` does (schema 8)."""
    return SPACELESS.sub(r" \g<0> ", fold(text))


def tokens(text: str) -> list[str]:
    """The folded words of ``text``, split where the index splits them."""
    return TOKEN.findall(fold(text))


def parse(query: str) -> list[Term]:
    """The terms of a search box's text; empty when it holds no word (then the library lists everything)."""
    terms = []
    for match in TERM.finditer(query):
        phrase, word = match.groups()
        if phrase is not None:
            found = tokens(phrase)
            if found:
                terms.append(Term(tuple(found)))
            continue
        found = tokens(word)
        if found:
            terms.append(Term(tuple(found), prefix=word.endswith(PREFIX_MARK)))
    return terms


def fts_query(terms: list[Term]) -> str:
    """The FTS5 MATCH expression for all of ``terms``."""
    return " AND ".join(term.fts() for term in terms)


def fts_any(terms: list[Term]) -> str:
    """The FTS5 MATCH expression for any of ``terms``."""
    return " OR ".join(term.fts() for term in terms)


def folded_words(texts: Iterable[str]) -> tuple[list[str], list[int]]:
    """The folded tokens of a run of words, and for each the index of the word it came from (a word may give several
    tokens, as the index splits them: ``"Anna's"`` is ``anna`` and ``s``)."""
    folded: list[str] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        pieces = tokens(text)
        folded += pieces
        owners += [index] * len(pieces)
    return folded, owners


def matches(terms: list[Term], words: list[str]) -> Iterator[tuple[int, int]]:
    """Where any term matches ``words`` (folded), in order: (index of its first token, number of tokens it covers,
    the longest where several terms match there)."""
    for index in range(len(words)):
        lengths = [len(term.tokens) for term in terms if term.matches_at(words, index)]
        if lengths:
            yield index, max(lengths)


def word_matches(terms: list[Term], texts: Iterable[str]) -> Iterator[tuple[int, int]]:
    """Where any term matches a run of words as written: (its first word, its last word) by their index, in order
    (a phrase spans its words; a word the index splits, ``"Anna's"``, is matched by its pieces)."""
    folded, owners = folded_words(texts)
    for index, length in matches(terms, folded):
        yield owners[index], owners[index + length - 1]


def names_matching(terms: list[Term], names: Iterable[str]) -> set[str]:
    """Those of ``names`` (speakers' names) in which a term matches: ``berg`` finds "Anna Berg"."""
    return {name for name in names if next(matches(terms, tokens(name)), None) is not None}


def snippet(terms: list[Term], text: str, *, size: int = SNIPPET_TOKENS) -> str:
    """The part of a passage's ``text`` that shows where ``terms`` match: at most ``size`` words, the matches in the
    middle (the window holding the most of them), each match between :data:`SNIPPET_MARK`, and
    :data:`SNIPPET_ELLIPSIS` where the passage is cut. ``text`` is shown as it was written, accents and all."""
    spans = [match.span() for match in TOKEN.finditer(text)]
    if not spans:
        return text
    marked = list(word_matches(terms, (text[start:end] for start, end in spans)))
    begin = 0
    if len(spans) > size and marked:
        firsts = [first for first, _ in marked]  # in order
        most = max(range(len(firsts)), key=lambda i: (bisect.bisect_left(firsts, firsts[i] + size) - i, -i))
        best = firsts[most]
        inside = [(first, last) for first, last in marked if best <= first and last < best + size] or [marked[most]]
        low, high = inside[0][0], inside[-1][1]
        slack = max(0, size - (high - low + 1))  # none for a phrase longer than the snippet: it starts there
        begin = max(0, min(low - slack // 2, len(spans) - size))
    end = min(len(spans), begin + size)
    left = 0 if begin == 0 else spans[begin][0]
    right = len(text) if end == len(spans) else spans[end - 1][1]
    pieces, position = [], left
    for first, last in marked:
        if first < begin or last >= end or spans[first][0] < position:
            continue
        pieces += [text[position:spans[first][0]], SNIPPET_MARK, text[spans[first][0]:spans[last][1]], SNIPPET_MARK]
        position = spans[last][1]
    pieces.append(text[position:right])
    cut_before, cut_after = SNIPPET_ELLIPSIS if begin else "", SNIPPET_ELLIPSIS if end < len(spans) else ""
    return cut_before + "".join(pieces).strip() + cut_after
