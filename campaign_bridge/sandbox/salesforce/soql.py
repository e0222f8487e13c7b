"""A tokenizer and recursive-descent parser for the SOQL subset the emulator answers.

Grammar (keywords case-insensitive)::

    query      := SELECT selection FROM name [WHERE condition] [ORDER BY order (, order)*] [LIMIT int]
    selection  := COUNT ( ) | item (, item)*
    item       := path | ( subquery )
    subquery   := SELECT path (, path)* FROM relationship [WHERE condition] [ORDER BY order (, order)*] [LIMIT int]
    condition  := unary ((AND unary)* | (OR unary)*)     -- mixing AND and OR needs parentheses, as in SOQL
    unary      := NOT unary | ( condition ) | comparison
    comparison := path (= | != | <> | < | <= | > | >=) value | path [NOT] IN ( value (, value)* )
                | path LIKE string
    order      := path [ASC | DESC] [NULLS (FIRST | LAST)]
    value      := 'string' | number | true | false | null | 2024-05-01 | 2024-05-01T00:00:00Z (or ±hh:mm)

A subquery is a parent-to-child relationship query: its FROM names a child relationship of the outer
object (``CampaignMemberStatuses`` of Campaign); the binder checks the name. Subqueries nest one level.

Anything else (GROUP BY, OFFSET, semi-joins, date literals such as TODAY, bind variables, aggregate
functions but ``COUNT()``) raises ``ApiError`` 400 MALFORMED_QUERY, as Salesforce answers it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .errors import ApiError
from .values import parse_datetime

KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "TRUE",
        "FALSE",
        "NULL",
    ]
)
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_COMPARISONS = ("=", "!=", "<>", "<", "<=", ">", ">=")


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


# ---- tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # WORD STRING NUMBER DATE DATETIME OP ( ) , . EOF
    text: str  # the source text (for messages); for WORD as written
    value: Any = None
    like: str | None = None  # for STRING: the equivalent regular expression when used with LIKE
    at: int = 0

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "WORD" and upper in KEYWORDS else None


def tokenize(text: str) -> list[Token]:
    """Split SOQL into tokens; raise MALFORMED_QUERY on a character or literal SOQL does not allow."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("WORD", text[i:j], at=i))
            i = j
        elif c == "'":
            token, i = _string(text, i)
            tokens.append(token)
        elif c.isdigit() or (c in "+-" and i + 1 < n and text[i + 1].isdigit()):
            token, i = _number_or_date(text, i)
            tokens.append(token)
        elif c in "(),.":
            tokens.append(Token(c, c, at=i))
            i += 1
        elif c in "=!<>":
            two = text[i : i + 2]
            op = two if two in ("!=", "<>", "<=", ">=") else c
            if op == "!":
                raise malformed(f"line 1:{i} no viable alternative at character '{c}'")
            tokens.append(Token("OP", op, at=i))
            i += len(op)
        else:
            raise malformed(f"line 1:{i} no viable alternative at character '{c}'")
    tokens.append(Token("EOF", "<EOF>", at=n))
    return tokens


#: A string literal without escapes, the common case (an ``Email IN (…)`` of 200 addresses): read whole.
_PLAIN_STRING = re.compile(r"'([^'\\]*)'")


def _string(text: str, start: int) -> tuple[Token, int]:
    simple = _PLAIN_STRING.match(text, start)
    if simple is not None:
        plain_text = simple.group(1)
        # re.escape leaves % and _ alone, so they can be turned into LIKE's wildcards afterwards
        like = re.escape(plain_text).replace("%", ".*").replace("_", ".")
        return Token("STRING", simple.group(0), plain_text, like, start), simple.end()
    plain: list[str] = []
    pattern: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "'":
            return Token("STRING", text[start : i + 1], "".join(plain), "".join(pattern), start), i + 1
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt in _ESCAPES:
                plain.append(_ESCAPES[nxt])
                pattern.append(re.escape(_ESCAPES[nxt]))
            elif nxt in ("%", "_"):
                plain.append(nxt)  # outside LIKE, \% and \_ stand for themselves
                pattern.append(re.escape(nxt))
            else:
                raise malformed(
                    f"Invalid string literal '{text[start + 1 : i + 2]}'. Illegal character sequence "
                    f"'\\{nxt}' in string literal."
                )
            i += 2
            continue
        plain.append(c)
        pattern.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    raise malformed(f"line 1:{start} mismatched character '<EOF>' expecting '''")


def _number_or_date(text: str, start: int) -> tuple[Token, int]:
    i = start + (1 if text[start] in "+-" else 0)
    j = i
    while j < len(text) and text[j].isdigit():
        j += 1
    if text[start] not in "+-" and j - i == 4 and text[j : j + 1] == "-":
        return _date(text, start)
    if text[j : j + 1] == "." and text[j + 1 : j + 2].isdigit():
        j += 1
        while j < len(text) and text[j].isdigit():
            j += 1
    literal = text[start:j]
    value: int | float = float(literal) if "." in literal else int(literal)
    return Token("NUMBER", literal, value, at=start), j


def _date(text: str, start: int) -> tuple[Token, int]:
    j = start
    allowed = "0123456789-T:.Z+"
    while j < len(text) and text[j] in allowed:
        j += 1
    literal = text[start:j]
    try:
        if "T" in literal:
            return Token("DATETIME", literal, parse_datetime(literal), at=start), j
        if len(literal) != 10:
            raise ValueError(literal)
        return Token("DATE", literal, date.fromisoformat(literal), at=start), j
    except ValueError:
        raise malformed(f"line 1:{start} no viable alternative at character '{literal}'") from None


# ---- syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Path:
    names: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.names)


@dataclass(frozen=True, slots=True)
class Literal:
    kind: str  # string number boolean null date datetime
    value: Any
    like: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Comparison:
    path: Path
    op: str  # = != < <= > >= IN NOT IN LIKE ("<>" is read as "!=")
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class Junction:
    op: str  # AND | OR
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    item: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True, slots=True)
class Order:
    path: Path
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class Query:
    """A statement. In a subquery ``sobject`` is the child relationship's name, and ``subqueries`` is empty."""

    fields: tuple[Path, ...]
    count: bool
    sobject: str
    where: Condition | None
    order_by: tuple[Order, ...]
    limit: int | None
    subqueries: tuple[Query, ...] = ()


# ---- parser --------------------------------------------------------------------------------------


def parse(text: str) -> Query:
    """Parse one SOQL statement; raise ``ApiError`` MALFORMED_QUERY if it is outside the subset."""
    return _Parser(tokenize(text)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def unexpected(self, token: Token | None = None) -> ApiError:
        token = token or self.peek
        return malformed(f"unexpected token: '{token.text}'" if token.kind != "EOF" else "unexpected token: <EOF>")

    def at_keyword(self, *words: str) -> bool:
        return self.peek.keyword in words

    def expect_keyword(self, word: str) -> None:
        if self.peek.keyword != word:
            raise self.unexpected()
        self.advance()

    def expect(self, kind: str) -> Token:
        if self.peek.kind != kind:
            raise self.unexpected()
        return self.advance()

    def query(self, *, nested: bool = False) -> Query:
        """A statement up to its end: end of text, or, ``nested``, the ``)`` closing a subquery (left
        for the caller)."""
        self.expect_keyword("SELECT")
        count, fields, subqueries = self.selection(nested=nested)
        self.expect_keyword("FROM")
        sobject = self.name()
        where = None
        if self.at_keyword("WHERE"):
            self.advance()
            where = self.condition()
        order_by: list[Order] = []
        if self.at_keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            order_by.append(self.order())
            while self.peek.kind == ",":
                self.advance()
                order_by.append(self.order())
        limit = None
        if self.at_keyword("LIMIT"):
            self.advance()
            token = self.expect("NUMBER")
            if not isinstance(token.value, int) or token.value < 0:
                raise self.unexpected(token)
            limit = token.value
        if self.peek.kind != (")" if nested else "EOF"):
            raise self.unexpected()
        if count and order_by:
            raise malformed("ORDER BY is not allowed in a COUNT() query")
        return Query(tuple(fields), count, sobject, where, tuple(order_by), limit, tuple(subqueries))

    def selection(self, *, nested: bool) -> tuple[bool, list[Path], list[Query]]:
        token = self.peek
        if token.kind == "WORD" and token.text.upper() == "COUNT" and self.tokens[self.pos + 1].kind == "(":
            if nested:
                raise self.unexpected()
            self.pos += 2
            self.expect(")")
            return True, [], []
        fields: list[Path] = []
        subqueries: list[Query] = []
        while True:
            if self.peek.kind == "(":
                if nested:
                    raise self.unexpected()  # the emulator nests subqueries one level deep
                self.advance()
                subqueries.append(self.query(nested=True))
                self.expect(")")
            else:
                fields.append(self.path())
            if self.peek.kind != ",":
                break
            self.advance()
        seen: set[str] = set()
        for name in [p.text for p in fields] + [q.sobject for q in subqueries]:
            if name.lower() in seen:
                raise malformed(f"duplicate field selected: {name}")
            seen.add(name.lower())
        return False, fields, subqueries

    def name(self) -> str:
        token = self.peek
        if token.kind != "WORD" or token.keyword:
            raise self.unexpected()
        self.advance()
        return token.text

    def path(self) -> Path:
        names = [self.name()]
        while self.peek.kind == ".":
            self.advance()
            names.append(self.name())
        if self.peek.kind == "(":
            raise self.unexpected()  # a function call: aggregates, toLabel, FORMAT…
        return Path(tuple(names))

    def condition(self) -> Condition:
        items = [self.unary()]
        joiner: str | None = None
        while self.at_keyword("AND", "OR"):
            word = self.peek.keyword
            if joiner is not None and word != joiner:
                raise self.unexpected()  # SOQL refuses "a AND b OR c" without parentheses
            joiner = word
            self.advance()
            items.append(self.unary())
        if joiner is None:
            return items[0]
        return Junction(joiner, tuple(items))

    def unary(self) -> Condition:
        if self.at_keyword("NOT"):
            self.advance()
            return Negation(self.unary())
        if self.peek.kind == "(":
            self.advance()
            inner = self.condition()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        path = self.path()
        token = self.peek
        if token.kind == "OP" and token.text in _COMPARISONS:
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(path, op, self.value())
        if self.at_keyword("LIKE"):
            self.advance()
            value = self.value()
            if value.kind != "string":
                raise malformed("LIKE needs a string literal")
            return Comparison(path, "LIKE", value)
        negated = False
        if self.at_keyword("NOT"):
            self.advance()
            negated = True
        if self.at_keyword("IN"):
            self.advance()
            self.expect("(")
            values = [self.value()]
            while self.peek.kind == ",":
                self.advance()
                values.append(self.value())
            self.expect(")")
            return Comparison(path, "NOT IN" if negated else "IN", tuple(values))
        raise self.unexpected()

    def value(self) -> Literal:
        token = self.advance()
        if token.kind == "STRING":
            return Literal("string", token.value, token.like, token.text)
        if token.kind == "NUMBER":
            return Literal("number", token.value, text=token.text)
        if token.kind == "DATE":
            return Literal("date", token.value, text=token.text)
        if token.kind == "DATETIME":
            assert isinstance(token.value, datetime)
            return Literal("datetime", token.value, text=token.text)
        keyword = token.keyword
        if keyword in ("TRUE", "FALSE"):
            return Literal("boolean", keyword == "TRUE", text=token.text)
        if keyword == "NULL":
            return Literal("null", None, text=token.text)
        raise self.unexpected(token)

    def order(self) -> Order:
        path = self.path()
        descending = False
        if self.at_keyword("ASC", "DESC"):
            descending = self.advance().keyword == "DESC"
        nulls_first = not descending
        if self.at_keyword("NULLS"):
            self.advance()
            if not self.at_keyword("FIRST", "LAST"):
                raise self.unexpected()
            nulls_first = self.advance().keyword == "FIRST"
        return Order(path, descending, nulls_first)
