"""Hypothesis fuzzing of what users write: the client file loader and the segment translations.

Whatever the input, the loader answers a ``ClientConfig`` or a ``ConfigError`` listing located problems
(never another exception, never a secret in a message); a segment becomes SOQL that Salesforce's grammar
accepts (the emulator's parser) with every value escaped, or HubSpot filter groups that survive a JSON
round trip, or a ``FatalError`` saying what cannot be expressed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.hubspot.search import filter_groups
from campaign_bridge.connectors.salesforce.segments import CONTACT_FIELDS, LEAD_FIELDS, SegmentTranslator
from campaign_bridge.errors import ConfigError, FatalError
from campaign_bridge.mapping.segment import CANONICAL_FIELDS, parse_segment
from campaign_bridge.sandbox.salesforce.soql import parse as parse_soql

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SECRET = "s3cr3t-Value-Never-Printed"

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), text)
keys = st.sampled_from(
    [
        "client",
        "state",
        "connections",
        "rules",
        "defaults",
        "name",
        "from",
        "to",
        "connection",
        "campaign",
        "list",
        "segment",
        "mode",
        "type",
        "auth",
        "method",
        "token",
        "match",
        "safety",
        "schedule",
        "every",
        "max_attempts",
        "status",
        "hs",
        "sf",
        "unknown_key",
    ]
)
tree = st.recursive(
    scalar, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys | text, kids, max_size=5), max_leaves=25
)

VALID = {
    "client": "acme",
    "connections": {
        "hs": {"type": "hubspot", "auth": {"method": "private_app", "token": "${HS_TOKEN}"}},
        "sf": {
            "type": "salesforce",
            "instance_url": "https://acme.my.salesforce.com",
            "auth": {"method": "client_credentials", "client_id": "id", "client_secret": "${SF_SECRET}"},
        },
    },
    "rules": [
        {
            "name": "r",
            "from": {"connection": "sf", "campaign": "Webinar"},
            "to": {"connection": "hs", "list": "Nurture"},
        }
    ],
}
ENV = {"HS_TOKEN": SECRET, "SF_SECRET": SECRET}


def _load(doc: str) -> None:
    refused: ConfigError | None = None
    try:
        config = load_config_text(doc, "fuzz.yaml", ENV)
    except ConfigError as exc:
        refused = exc
    if refused is None:
        assert isinstance(config, ClientConfig)
        assert SECRET not in repr(config)
        return
    assert refused.problems, "a ConfigError must list its problems"
    for p in refused.problems:
        assert p.file == "fuzz.yaml"
        assert p.message
    assert SECRET not in str(refused)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
@example("client: a\nrules:\n")  # an empty value
@example("a: !!int x\n")  # a tag its value cannot satisfy
@example("when: 2026-13-45\n")  # a date that is not one
def test_any_text_loads_or_is_refused_with_located_problems(doc: str) -> None:
    _load(doc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree)
def test_any_yaml_document_loads_or_is_refused_with_located_problems(data: Any) -> None:
    _load(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["client", "connections", "rules", "defaults", "state"]), tree), max_size=3))
def test_a_valid_file_with_parts_replaced_is_loaded_or_refused_cleanly(changes: list[tuple[str, Any]]) -> None:
    data = json.loads(json.dumps(VALID))
    for key, value in changes:
        data[key] = value
    _load(yaml.safe_dump(data, allow_unicode=True))


# -- segments -------------------------------------------------------------------------------------------
def _value(kind: str) -> st.SearchStrategy[Any]:
    if kind == "number":
        return st.integers(-1000, 10**6) | st.floats(-1e6, 1e6, allow_nan=False)
    if kind == "bool":
        return st.booleans()
    if kind == "datetime":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).map(
            lambda d: d.replace(tzinfo=UTC).isoformat()
        )
    # quotes, backslashes, SOQL wildcards and keywords, unicode: all must arrive as data
    return st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=15) | st.sampled_from(
        ["O'Brien", "a\\'b", "%_", "' OR Name != '", "zoë@exämple.com", " x ", "\\", '"q"']
    )


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(CANONICAL_FIELDS)))
    kind = CANONICAL_FIELDS[field]
    ops = {
        "string": ["eq", "ne", "in", "not_in", "contains", "exists"],
        "number": ["eq", "lt", "gte", "in"],
        "bool": ["eq", "exists"],
        "datetime": ["within", "not_within", "gt", "lte", "exists"],
    }[kind]
    op = draw(st.sampled_from(ops))
    if op == "exists":
        return {"field": field, op: draw(st.booleans())}
    if op in ("within", "not_within"):
        return {"field": field, op: f"{draw(st.integers(1, 400))}{draw(st.sampled_from('dhw'))}"}
    if op in ("in", "not_in"):
        return {"field": field, op: draw(st.lists(_value(kind), min_size=1, max_size=4))}
    return {"field": field, op: draw(_value(kind))}


segments = st.recursive(
    conditions(),
    lambda kids: (
        st.dictionaries(st.sampled_from(["all", "any"]), st.lists(kids, min_size=1, max_size=3), min_size=1, max_size=1)
        | kids.map(lambda k: {"not": k})
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segments)
def test_segments_become_soql_salesforce_parses_or_a_clear_refusal(raw: dict[str, Any]) -> None:
    try:
        segment = parse_segment(raw)
    except ValueError:
        return  # refused at config time, with the loader's located message
    for sobject, fields in (("Lead", LEAD_FIELDS), ("Contact", CONTACT_FIELDS)):
        refusal = ""
        try:
            clause = SegmentTranslator(sobject, fields, NOW).where(segment)
        except FatalError as exc:
            refusal = str(exc)
        if refusal:
            assert "Salesforce" in refusal or "filter" in refusal
            continue
        if isinstance(clause, bool):
            continue
        parse_soql(f"SELECT Id FROM {sobject} WHERE {clause}")  # raises on anything injected or unescaped


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segments)
def test_segments_become_hubspot_filter_groups_or_a_clear_refusal(raw: dict[str, Any]) -> None:
    try:
        segment = parse_segment(raw)
    except ValueError:
        return
    refusal = None
    try:
        groups = filter_groups(segment, NOW)
    except FatalError as exc:
        refusal = str(exc)
    if refusal is not None:
        assert refusal  # says what HubSpot's search cannot express
        return
    assert json.loads(json.dumps(groups)) == groups
    for group in groups:
        for f in group:
            assert isinstance(f["propertyName"], str)
            assert isinstance(f["operator"], str)
