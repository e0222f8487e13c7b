"""Each connector declares the segment fields it can translate; ``validate`` refuses any other, offline.

A Salesforce segment on ``score`` used to pass ``validate`` (no connector said what it could filter on)
and fail only when a run translated it.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.connectors.hubspot.search import filter_groups
from campaign_bridge.connectors.registry import connector_class, connector_types
from campaign_bridge.connectors.salesforce.segments import CONTACT_FIELDS, LEAD_FIELDS, SegmentTranslator
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.segment import CANONICAL_FIELDS, FieldType, parse_segment

DOCS = Path(__file__).parents[2] / "docs" / "rules.md"
NOW = datetime(2026, 1, 1)

FILE = """\
client: x
connections:
  sf:
    type: salesforce
    instance_url: https://acme.my.salesforce.com
    auth: {method: session, session_id: "${SF_SESSION}"}
  hs:
    type: hubspot
    auth: {method: private_app, token: "${HS_TOKEN}"}
rules:
  - name: scored
    from:
      connection: sf
      segment:
        any:
          - {field: country, eq: FR}
          - {field: score, gte: 50}
    to: {connection: hs, list: Nurture}
  - name: bought
    from: {connection: hs, segment: {field: last_purchase_at, within: 30d}}
    to: {connection: sf, campaign: Buyers, status: Sent}
"""


def test_validate_offline_refuses_a_field_the_system_cannot_filter_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SF_SESSION", "x")
    monkeypatch.setenv("HS_TOKEN", "y")
    path = tmp_path / "client.yaml"
    path.write_text(FILE)

    result = CliRunner().invoke(main, ["validate", str(path), "--offline"])

    assert result.exit_code == 2, result.output
    sf_known = "company, country, created_at, email, first_name, last_activity_at, last_name, lead_status, "
    sf_known += "opportunity_stage, owner"
    assert f"{path}:17: salesforce cannot filter people on score; it can on: {sf_known}\n" in result.output
    assert f"{path}:20: hubspot cannot filter people on last_purchase_at; it can on: company, country," in result.output


def test_each_connector_declares_what_it_can_translate() -> None:
    declared = {name: dict(connector_class(name).segment_fields) for name in connector_types()}
    assert set(declared["salesforce"]) == {
        "email",
        "first_name",
        "last_name",
        "company",
        "country",
        "lead_status",
        "owner",
        "created_at",
        "last_activity_at",
        "opportunity_stage",
    }
    assert declared["salesforce"]["last_activity_at"].type is FieldType.DATE  # LastActivityDate is a Date
    assert set(declared["hubspot"]) == set(CANONICAL_FIELDS) - {"opportunity_stage", "last_purchase_at", "grade"}
    assert {f.wildcards for f in declared["hubspot"].values() if f.type is FieldType.STRING} == {"*"}
    assert not any(f.wildcards for f in declared["salesforce"].values())
    for memory in ("memory-crm", "memory-ma"):
        assert {k: f.type for k, f in declared[memory].items()} == CANONICAL_FIELDS


@pytest.mark.parametrize("field", sorted(CANONICAL_FIELDS))
def test_a_declared_field_translates_and_an_undeclared_one_is_refused(field: str) -> None:
    # The declaration is what the translations do, so validate never passes what a run refuses.
    value = {FieldType.STRING: {"eq": "x"}, FieldType.NUMBER: {"gte": 1}, FieldType.BOOL: {"eq": True}}
    segment = parse_segment({"field": field, **value.get(CANONICAL_FIELDS[field], {"within": "30d"})})
    for system, translate in (
        (
            "salesforce",
            lambda: [
                SegmentTranslator(o, f, NOW).where(segment)
                for o, f in (("Lead", LEAD_FIELDS), ("Contact", CONTACT_FIELDS))
            ],
        ),
        ("hubspot", lambda: filter_groups(segment, NOW)),
    ):
        if field in connector_class(system).segment_fields:
            translate()
        else:
            with pytest.raises(FatalError):
                translate()


def test_the_rule_reference_lists_each_systems_fields_as_declared() -> None:
    rows = re.findall(r"^\| `(\w+)` \|([^|]*)\|([^|]*)\|$", DOCS.read_text(), re.MULTILINE)
    table = {field: (sf.strip(), hs.strip()) for field, sf, hs in rows if field in CANONICAL_FIELDS}
    assert set(table) == set(CANONICAL_FIELDS)
    assert {f for f, (sf, _) in table.items() if sf} == set(connector_class("salesforce").segment_fields)
    assert {f for f, (_, hs) in table.items() if hs} == set(connector_class("hubspot").segment_fields)


def test_validate_offline_refuses_a_hubspot_contains_holding_a_star(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Salesforce escapes its wildcards, so '%' and '_' are text there; HubSpot cannot escape '*'.
    monkeypatch.setenv("SF_SESSION", "x")
    monkeypatch.setenv("HS_TOKEN", "y")
    path = tmp_path / "client.yaml"
    text = FILE.replace("{field: score, gte: 50}", '{field: company, contains: "50%_off"}')
    path.write_text(
        text.replace("{field: last_purchase_at, within: 30d}", '{field: last_page_visited, contains: "/pricing*"}')
    )

    result = CliRunner().invoke(main, ["validate", str(path), "--offline"])

    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"{path}:20: hubspot reads * in a search as a wildcard and cannot escape it, so contains '/pricing*' would "
        "match far more people than hold that text; remove it"
    ]


def test_salesforce_declares_each_field_by_its_type_and_only_last_activity_as_a_calendar_day() -> None:
    # What `discover` lists per field: LastActivityDate is Salesforce's only Date (not DateTime) field here.
    declared = {name: field.type for name, field in connector_class("salesforce").segment_fields.items()}
    assert declared == {**{name: CANONICAL_FIELDS[name] for name in declared}, "last_activity_at": FieldType.DATE}
    assert declared["created_at"] is FieldType.DATETIME
    assert declared["email"] is FieldType.STRING
