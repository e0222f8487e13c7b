"""Folding translated segment clauses into one server-side filter (SOQL ``WHERE``, OData ``$filter``).

A translated clause is a filter's text, or ``True``/``False`` where the translation already knows the
answer for every record (a condition no record can meet, or one every record meets). ``all_of`` and
``any_of`` fold a segment's ``all``/``any`` items the way logic does: a ``False`` makes ``all`` false and
a ``True`` makes ``any`` true whatever the rest say; the known answers drop out of the text otherwise.
The joining word is the query language's own (``AND`` in SOQL, ``and`` in OData).
"""

from __future__ import annotations

from collections.abc import Sequence

#: A translated condition: its filter text, or the answer it has for every record.
Clause = str | bool


def all_of(items: Sequence[Clause], word: str) -> Clause:
    """Every item: ``False`` if one is, ``True`` if none has text, else the texts joined by ``word``."""
    return _fold(items, word, absorbing=False)


def any_of(items: Sequence[Clause], word: str) -> Clause:
    """Some item: ``True`` if one is, ``False`` if none has text, else the texts joined by ``word``."""
    return _fold(items, word, absorbing=True)


def _fold(items: Sequence[Clause], word: str, *, absorbing: bool) -> Clause:
    if any(item is absorbing for item in items):
        return absorbing
    texts = [item for item in items if isinstance(item, str)]
    if not texts:
        return not absorbing
    return texts[0] if len(texts) == 1 else "(" + f" {word} ".join(texts) + ")"
