"""Reading a client file (``config/document.py``): each refusal as an admin reads it from ``validate``.

The file, its line and its words are the product's interface: a syntax error, a value YAML cannot read, a
character YAML does not allow, a file past one of the limits of docs/rules.md ("Limits"). Each limit is
tried at its edge: the limit itself is read, one more is refused, with the line where the file passes it.
Values from the environment and secrets are never echoed back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_bridge.config.document import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, parse_yaml
from campaign_bridge.config.loader import load_config, load_config_text
from campaign_bridge.connectors.registry import connector_types
from campaign_bridge.errors import ConfigError, Problem

KNOWN_TYPES = ", ".join(connector_types())  # imports every connector, once, as the loader's message does
HEAD = "client: x\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\n"  # 4 lines
TOO_LARGE = "the file is larger than 1,048,576 bytes, the most a client file may be; split the client"
THROUGH_ALIASES = "through aliases (*name) repeating their anchors; a client file needs far less"
TOO_MANY = f"this value expands to more than 200,000 values {THROUGH_ALIASES}"
TOO_DEEP = f"this value expands to data nested more than 50 levels deep {THROUGH_ALIASES}"


def _problems(text: str, environ: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as refused:
        load_config_text(text, "client.yaml", environ=environ or {})
    return list(refused.value.problems)


def _refusal(text: str) -> Problem:
    """The one problem ``parse_yaml`` finds in ``text``."""
    with pytest.raises(ConfigError) as refused:
        parse_yaml(text, "client.yaml")
    [problem] = refused.value.problems
    return problem


# --- values YAML cannot read ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "defaults: {max_attempts: !!int five}",
            "YAML value 'five' cannot be read: invalid literal for int() with base 10: 'five'",
        ),
        ("rules: [{from: {campaign: 2026-13-45}}]", "YAML value '2026-13-45' cannot be read: month must be in 1..12"),
        (
            "rules: [{from: {campaign: !Webinar Spring}}]",
            "YAML value 'Spring' cannot be read: could not determine a constructor for the tag '!Webinar'",
        ),
    ],
)
def test_a_value_yaml_cannot_read_is_refused_at_its_line_with_the_reason(line: str, message: str) -> None:
    assert _problems(HEAD + line + "\n") == [Problem("client.yaml", 5, message)]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("abcdefghij" * 4, "abcdefghij" * 4),  # 40 characters: shown whole
        ("abcdefghij" * 4 + "k", "abcdefghij" * 4 + "…"),  # 41: the first 40 and an ellipsis
        ("abcdefghij" * 500, "abcdefghij" * 4 + "…"),
    ],
)
def test_an_unreadable_value_is_quoted_up_to_40_characters(value: str, shown: str) -> None:
    problems = _problems(HEAD + f"notes: !important {value}\n")
    message = f"YAML value {shown!r} cannot be read: could not determine a constructor for the tag '!important'"
    assert problems == [Problem("client.yaml", 5, message)]


def test_a_syntax_error_is_refused_at_its_line_with_yaml_s_own_words() -> None:
    problems = _problems(HEAD + "rules:\n- a\n]\n")
    assert problems == [Problem("client.yaml", 7, "YAML syntax: expected <block end>, but found ']'")]


def test_a_key_that_is_a_list_is_refused() -> None:
    problems = _problems(HEAD + "? [a, b]\n: x\n")
    assert problems == [Problem("client.yaml", 5, "a key must be a single word or value, not a list or mapping")]


# --- characters and encodings ------------------------------------------------------------------------

NOT_ALLOWED = "which YAML does not allow"


@pytest.mark.parametrize(
    ("character", "message"),
    [
        (
            "\x00",
            f"the file contains the character U+0000, {NOT_ALLOWED} "
            "(UTF-16 saved without a byte-order mark, perhaps); save it as UTF-8",
        ),
        ("\x01", f"the file contains the character U+0001, {NOT_ALLOWED}"),
        ("\x07", f"the file contains the character U+0007, {NOT_ALLOWED}"),
    ],
)
def test_a_character_yaml_does_not_allow_is_named_at_its_line(character: str, message: str) -> None:
    # The file starts with an empty line: it counts.
    assert _problems("\n" + HEAD + f"rules: [{character}]\n") == [Problem("client.yaml", 6, message)]


def test_a_latin_1_byte_is_named_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_bytes(("\n" + HEAD + "# café\n").encode("latin-1"))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = (
        "the file is not UTF-8: byte 0xe9 cannot be read as UTF-8 (Latin-1 or Windows-1252, perhaps); "
        "save the file as UTF-8"
    )
    assert refused.value.problems == (Problem(str(path), 6, message),)


# --- the size limit -----------------------------------------------------------------------------------


def _at_the_limit() -> str:
    """A file of exactly ``MAX_FILE_BYTES`` whose line 2 is a syntax error (YAML stops there, at once)."""
    text = "client: x\n]\n"
    return text + "#" * (MAX_FILE_BYTES - len(text))


def _past_the_limit() -> str:
    """An empty line 1, then lines of 64 bytes: the limit falls on the newline ending line 16,385
    (1 + 64 x 16,384 bytes = MAX_FILE_BYTES + 1), and the file goes on past it."""
    return "\n" + ("#" * 63 + "\n") * (MAX_FILE_BYTES // 64 + 100)


LINE_OF_THE_LIMIT = MAX_FILE_BYTES // 64 + 1


def test_a_text_of_exactly_the_largest_size_is_read() -> None:
    # Read, so refused for what is in it: the syntax error of line 2, not the size.
    assert _refusal(_at_the_limit()) == Problem("client.yaml", 2, "YAML syntax: expected <block end>, but found ']'")


def test_a_text_past_the_largest_size_is_refused_at_the_line_the_limit_falls_in() -> None:
    assert _refusal(_past_the_limit()) == Problem("client.yaml", LINE_OF_THE_LIMIT, TOO_LARGE)
    assert _refusal(_at_the_limit() + "\n") == Problem("client.yaml", 3, TOO_LARGE)


def test_a_file_of_exactly_the_largest_size_is_read(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(_at_the_limit(), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.problems == (Problem(str(path), 2, "YAML syntax: expected <block end>, but found ']'"),)


def test_a_file_past_the_largest_size_is_refused_at_the_line_the_limit_falls_in(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(_past_the_limit(), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.problems == (Problem(str(path), LINE_OF_THE_LIMIT, TOO_LARGE),)


# --- the nesting limit --------------------------------------------------------------------------------


def _nested(levels: int) -> str:
    """``levels`` deep: the file's mapping, then lists in lists (the innermost empty) under ``nest``,
    written after a sibling list of two levels."""
    lists = levels - 1
    return "client: x\nfirst: [[a, b], c]\nnest:\n  " + "[" * lists + "]" * lists + "\n"


def test_data_nested_exactly_to_the_limit_is_read() -> None:
    assert parse_yaml(_nested(MAX_DEPTH), "client.yaml").data["client"] == "x"


def test_data_nested_past_the_limit_is_refused_at_its_line() -> None:
    message = f"the data is nested more than {MAX_DEPTH} levels deep"
    assert _refusal(_nested(MAX_DEPTH + 1)) == Problem("client.yaml", 4, message)


# --- the limit on values, aliases expanded ------------------------------------------------------------

# a holds 10 values (its list and 9 items), b 1,000 (its list, 99 copies of a and 9 items); 2 and 3 deep.
ANCHORS = "a: &a [" + ", ".join(["x"] * 9) + "]\nb: &b [" + ", ".join(["*a"] * 99 + ["x"] * 9) + "]\n"


def _list_of(values: int) -> str:
    """A list of exactly ``values`` values, itself included: copies of b and a, then single items."""
    copies_of_b, rest = divmod(values - 1, 1000)
    copies_of_a, items = divmod(rest, 10)
    return "[" + ", ".join(["*b"] * copies_of_b + ["*a"] * copies_of_a + ["x"] * items) + "]"


def _values(total: int) -> str:
    """A file of exactly ``total`` values once its aliases are expanded, whose first value cannot be read:
    its mapping (1), ``first`` and its value (2), a and b with their keys (1,012), and c's key and list."""
    return "first: !!int one\n" + ANCHORS + "c: " + _list_of(total - 1016) + "\n"


def test_a_file_of_exactly_the_most_values_is_read() -> None:
    # Read, so refused for what is in it: its first value, not the number of values.
    message = "YAML value 'one' cannot be read: invalid literal for int() with base 10: 'one'"
    assert _refusal(_values(MAX_NODES)) == Problem("client.yaml", 1, message)


def test_a_file_of_one_value_more_is_refused_at_the_line_of_the_value_that_passes_the_limit() -> None:
    # Here the whole file: its mapping starts on line 1.
    assert _refusal(_values(MAX_NODES + 1)) == Problem("client.yaml", 1, TOO_MANY)


def test_aliases_in_every_key_of_a_mapping_count() -> None:
    # Each of m's five keys holds 100,001 values; the mapping is refused, on its line, for all of them.
    text = ANCHORS + "m:\n" + "".join(f"  {key}: {_list_of(100_001)}\n" for key in "pqrst")
    assert _refusal(text) == Problem("client.yaml", 4, TOO_MANY)


def test_a_value_of_exactly_the_most_values_nested_too_deep_is_refused_for_its_depth() -> None:
    # t holds 200,000 values in 46 lists and is 49 deep: read under the file's mapping, it is one level
    # too deep inside u's list, on line 5.
    t = "[" * 45 + _list_of(MAX_NODES - 45) + "]" * 45
    text = ANCHORS + f"t: &t {t}\nu:\n  - *t\n"
    assert _refusal(text) == Problem("client.yaml", 5, TOO_DEEP)


# --- where a problem is placed, how a rule is named, what is never echoed -----------------------------


def test_an_empty_file_is_refused_at_line_1() -> None:
    assert _problems("") == [
        Problem("client.yaml", 1, "client: required key is missing"),
        Problem("client.yaml", 1, "the file has no 'connections' section"),
    ]


def test_a_problem_with_a_key_not_written_is_placed_at_the_line_of_its_mapping() -> None:
    text = "client: x\nconnections:\n  ma: {type: memory-ma}\n  crm:\n    store: v1\n"
    message = f"connection 'crm': unknown type None (known: {KNOWN_TYPES})"
    assert _problems(text) == [Problem("client.yaml", 4, message)]


def test_a_rule_without_a_name_is_named_by_its_place_in_the_file() -> None:
    text = (
        HEAD + "rules:\n  - name: a\n    from: {connection: crm, campaign: W}\n    to: {connection: ma, list: L}\n"
        "  - from: {connection: crm, campaign: W}\n    to: {connection: ma, list: M}\n"
    )
    assert _problems(text) == [Problem("client.yaml", 9, "rule #2 name: required key is missing")]


def test_a_value_from_the_environment_is_not_echoed_when_it_is_refused() -> None:
    problems = _problems(HEAD.replace("client: x", "client: ${CLIENT}"), {"CLIENT": "acme corp"})
    assert problems == [Problem("client.yaml", 1, "client: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]*$'")]


def test_a_secret_written_as_a_number_is_refused_and_never_echoed() -> None:
    text = "client: x\nconnections:\n  crm: {type: hubspot, auth: {method: private_app, token: 918273645}}\n"
    assert _problems(text + "  ma: {type: memory-ma}\n") == [
        Problem("client.yaml", 3, "connections.crm.auth.token: Input should be a valid string"),  # no "(got …)"
        Problem(
            "client.yaml",
            3,
            "connections.crm.auth.token: secrets must not be written in the file; "
            "write ${SOME_NAME} and set SOME_NAME in the environment",
        ),
    ]


def test_a_value_from_the_environment_is_named_as_the_file_wrote_it_even_when_the_check_lowercased_it() -> None:
    text = (
        HEAD + "rules:\n  - name: a\n    from: {connection: crm, campaign: W}\n    to: {connection: ma, list: L}\n"
        "    schedule: {every: '${EVERY}'}\n"
    )
    message = "rule 'a' schedule.every: '${EVERY}' is not a duration; write e.g. 30s, 5m, 2h, 1d or 1w"
    assert _problems(text, {"EVERY": " 5X "}) == [Problem("client.yaml", 9, message)]
