"""Rules that feed each other in a loop are refused offline: each loop once, quickly, however tangled."""

from __future__ import annotations

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.errors import ConfigError

HEAD = "client: x\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\nrules:\n"  # 5 lines


def _there_and_back(pairs: int, containers: int = 1) -> str:
    """``pairs`` rules from CRM campaigns to MA lists and as many back, over ``containers`` of each: one
    tangle holding a vast number of distinct cycles (8 + 8 rules over one pair hold billions)."""
    rules = []
    for i in range(pairs):
        c = i % containers
        rules.append(
            f"  - {{name: out-{i}, from: {{connection: crm, campaign: C{c}}}, to: {{connection: ma, list: L{c}}}}}\n"
        )
        rules.append(
            f"  - {{name: back-{i}, from: {{connection: ma, list: L{c}}}, "
            f"to: {{connection: crm, campaign: C{(c + 1) % containers}, status: Sent}}}}\n"
        )
    return HEAD + "".join(rules)


def _cycle_problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config_text(text, "c.yaml", environ)
    return [str(p) for p in refused.value.problems if "rule cycle" in p.message]


# Bounded by the timeout, not timed: the old search walked every path and ran for minutes here.
@pytest.mark.timeout(30)
def test_sixteen_tangled_rules_are_one_loop_reported_once() -> None:
    [problem] = _cycle_problems(_there_and_back(8))
    assert problem.startswith("c.yaml:6: rule cycle: out-0 → back-0 → out-0 (each rule feeds")
    others = ", ".join(f"{name}-{i}" for i in range(1, 8) for name in ("out", "back"))
    assert problem.endswith(f"; also in this loop: {others}")


@pytest.mark.timeout(30)
def test_hundreds_of_rules_in_one_tangle_are_one_problem() -> None:
    # 300 rules over 30 campaigns and 30 lists, all one tangle (out-i to L(i), back-i to C(i+1)).
    [problem] = _cycle_problems(_there_and_back(150, containers=30))
    assert "rule cycle: out-0 → back-0 → out-1 → back-1 →" in problem
    assert "back-29 → out-0 (each rule feeds" in problem


def test_separate_loops_are_each_reported_once_at_their_first_rule() -> None:
    loops = "".join(
        f"  - {{name: a{i}, from: {{connection: crm, campaign: C{i}}}, to: {{connection: ma, list: L{i}}}}}\n"
        f"  - {{name: b{i}, from: {{connection: ma, list: L{i}}}, to: {{connection: crm, campaign: C{i}, status: Sent}}}}\n"
        for i in range(3)
    )
    chain = "  - {name: c, from: {connection: crm, campaign: X}, to: {connection: ma, list: Y}}\n"
    problems = _cycle_problems(HEAD + loops + chain)
    assert problems == [
        f"c.yaml:{6 + 2 * i}: rule cycle: a{i} → b{i} → a{i} (each rule feeds the next one's source; break the loop)"
        for i in range(3)
    ]


SALESFORCE = """\
client: x
connections:
  sf:
    type: salesforce
    instance_url: https://acme.my.salesforce.com
    auth: {method: session, session_id: "${SF_SESSION}"}
  ma: {type: memory-ma}
rules:
  - {name: a, from: {connection: sf, campaign: "READ"}, to: {connection: ma, list: Nurture}}
  - {name: b, from: {connection: ma, list: Nurture}, to: {connection: sf, campaign: "WRITE", status: Sent}}
"""


def test_a_salesforce_id_is_one_campaign_in_its_15_and_18_character_forms() -> None:
    # The connector finds a campaign by either form, so the loop is there whichever the rules use.
    text = SALESFORCE.replace("READ", "701Dn000001AbCdIAK").replace("WRITE", "701Dn000001AbCd")
    [problem] = _cycle_problems(text, {"SF_SESSION": "x"})
    assert problem.startswith("c.yaml:9: rule cycle: a → b → a")


def test_an_18_character_name_that_is_not_an_id_is_a_name() -> None:
    # Its last three characters are not the checksum of the first fifteen: a campaign named so.
    text = SALESFORCE.replace("READ", "701Dn000001AbCdXYZ").replace("WRITE", "701Dn000001AbCd")
    assert load_config_text(text, "c.yaml", {"SF_SESSION": "x"}).rules[0].name == "a"
