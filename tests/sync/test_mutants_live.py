"""`validate --live` (``sync/live.py``), each of its checks as a user reads it: a target that refuses writes,
a source lacking a status, two rules feeding each other, a list that mirrors a Salesforce campaign (the
note, and the loop through it), and each connection listed once."""

from __future__ import annotations

import pytest
import yaml

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.memory import MemoryMA
from campaign_bridge.connectors.memory.data import MemoryContainer
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import ConfigError, FatalError
from campaign_bridge.mapping.model import Container, ContainerKind, MemberStatus
from campaign_bridge.sync.live import check_live, live_problems
from tests.sync.world import World

#: A Salesforce campaign id in its 18-character form, and the 15-character form of the same campaign.
CAMPAIGN_18, CAMPAIGN_15 = "701Dn000001AbCdIAK", "701Dn000001AbCd"


def _messages(world: World, rules: str, lines: dict[str, int] | None = None) -> list[str]:
    cfg = world.config(rules)
    return [p.message for p in live_problems(cfg, world.engine(cfg).connectors, lines or {})]


FINE = """
  - name: fine
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
"""


def test_a_rules_file_with_nothing_wrong_has_no_problems(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    assert _messages(world, FINE) == []


def test_a_target_that_refuses_writes_is_named_with_the_reason(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Smart", ContainerKind.DYNAMIC_LIST)
    rules = """
  - name: dyn
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Smart}
"""
    [message] = _messages(world, rules)
    assert message.startswith("rule 'dyn' to: cannot write to 'Smart': ")


def test_a_target_campaign_lacking_the_status_names_the_ones_it_has(world: World) -> None:
    world.ma_list("Nurture")
    world.campaign("Webinar")
    rules = """
  - name: back
    from: {connection: ma, list: Nurture}
    to: {connection: crm, campaign: Webinar, status: Attended}
"""
    assert _messages(world, rules) == [
        "rule 'back' to: 'Webinar' has no member status 'Attended'; it has Sent, Responded"
    ]


def test_a_source_lacking_a_member_status_is_a_problem_at_the_rules_line(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    rules = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Respondd]}
    to: {connection: ma, list: Nurture}
"""
    cfg = world.config(rules)
    problems = live_problems(cfg, world.engine(cfg).connectors, {"web": 7})
    assert [(p.line, p.message) for p in problems] == [
        (
            7,
            "rule 'web' from: 'Webinar' has no member status 'Respondd'; did you mean 'Responded'? It has Sent, Responded",
        )
    ]


def test_two_rules_feeding_each_other_are_a_loop_reported_at_the_first_rules_line(world: World) -> None:
    world.campaign("Webinar")
    nurture = world.ma_list("Nurture")
    rules = f"""
  - name: out
    from: {{connection: crm, campaign: Webinar}}
    to: {{connection: ma, list: Nurture}}
  - name: back
    from: {{connection: ma, list: "{nurture}"}}
    to: {{connection: crm, campaign: Webinar, status: Sent}}
"""
    cfg = world.config(rules)
    problems = live_problems(cfg, world.engine(cfg).connectors, {"out": 3, "back": 6})
    assert [(p.file, p.line, p.message) for p in problems] == [
        (cfg.path, 3, "rule cycle: out → back → out (each rule feeds the next one's source; break the loop)")
    ]


def test_a_campaign_of_another_system_sharing_an_id_with_the_source_is_another_container(world: World) -> None:
    # Only Salesforce campaigns are told apart by id alone (an Account Engagement list may mirror one);
    # two other CRMs' campaigns with the same id are two campaigns.
    camp = world.campaign("Webinar")
    event = world.ma.add_container("Event", ContainerKind.CAMPAIGN, [("Sent", False)])
    assert camp == event
    text = f"""
client: test
connections:
  crm: {{type: memory-crm, store: {world.crm_name}}}
  other: {{type: memory-crm, store: {world.ma_name}}}
rules:
  - {{name: web, from: {{connection: crm, campaign: Webinar}}, to: {{connection: other, campaign: Event, status: Sent}}}}
"""
    cfg = load_config_text(text, "test.yaml")
    connectors = {name: build_connector(name, settings) for name, settings in cfg.connections.items()}
    assert live_problems(cfg, connectors, {}) == []


def test_two_lists_of_one_name_are_a_problem_of_the_rule_naming_them(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    world.ma_list("Nurture")
    rules = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
"""
    first, second = world.ma.container_id("Nurture"), list(world.ma.containers)[-1]
    assert _messages(world, rules) == [
        f"rule 'web' to: ma: 2 lists are named 'Nurture' ({first}, {second}); name one by id"
    ]


def test_each_connection_is_listed_once_for_all_its_rules(world: World) -> None:
    world.campaign("Webinar")
    world.campaign("Demo")
    world.ma_list("Nurture")
    world.ma_list("Leads")
    rules = """
  - name: a
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
  - name: b
    from: {connection: crm, campaign: Demo}
    to: {connection: ma, list: Leads}
"""
    cfg = _campaign_lists(world, rules)
    connectors = world.engine(cfg).connectors
    asked: list[str] = []
    for name, conn in connectors.items():
        real_list, real_find = conn.list_containers, conn.find_container

        def listing(real=real_list, name=name):  # type: ignore[no-untyped-def]
            asked.append(f"list {name}")
            return real()

        def finding(key, container_name, real=real_find, name=name):  # type: ignore[no-untyped-def]
            asked.append(f"find {name}")
            return real(key, container_name)

        conn.list_containers = listing  # type: ignore[method-assign]
        conn.find_container = finding  # type: ignore[method-assign]
    assert live_problems(cfg, connectors, {}) == []
    assert sorted(asked) == ["list crm", "list ma"]


# -- a list that mirrors a Salesforce campaign (an Account Engagement connected campaign) ---------------


def _mirroring(conn: Connector, lists: dict[str, str]) -> None:
    """``conn``'s lists of these ids mirror these Salesforce campaigns (as Account Engagement's do)."""
    conn.mirrors = lambda container: lists.get(container.id)  # type: ignore[attr-defined]


def test_a_target_mirroring_a_salesforce_campaign_is_a_note_not_a_problem(world: World) -> None:
    world.campaign("Webinar")
    nurture = world.ma_list("Nurture")
    cfg = world.config("""
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
""")
    connectors = world.engine(cfg).connectors
    _mirroring(connectors["ma"], {nurture: CAMPAIGN_18})
    notes: list = []  # type: ignore[type-arg]
    assert live_problems(cfg, connectors, {"web": 4}, notes) == []
    assert [(n.file, n.line, n.message) for n in notes] == [
        (
            cfg.path,
            4,
            f"rule 'web' to: 'Nurture' is connected to Salesforce campaign {CAMPAIGN_18}; "
            f"{connectors['ma'].system}'s own connector also writes its members there",
        )
    ]


def test_a_source_mirroring_a_salesforce_campaign_is_no_note(world: World) -> None:
    world.campaign("Webinar")
    nurture = world.ma_list("Nurture")
    cfg = world.config("""
  - name: back
    from: {connection: ma, list: Nurture}
    to: {connection: crm, campaign: Webinar, status: Sent}
""")
    connectors = world.engine(cfg).connectors
    _mirroring(connectors["ma"], {nurture: CAMPAIGN_18})
    notes: list = []  # type: ignore[type-arg]
    assert live_problems(cfg, connectors, {}, notes) == []
    assert notes == []


def test_a_mirror_that_is_not_a_campaign_id_is_ignored(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    cfg = world.config("""
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
""")
    connectors = world.engine(cfg).connectors
    connectors["ma"].mirrors = lambda container: 42  # type: ignore[attr-defined]
    notes: list = []  # type: ignore[type-arg]
    assert live_problems(cfg, connectors, {}, notes) == []
    assert notes == []


SALESFORCE = """
client: test
connections:
  sf:
    type: salesforce
    instance_url: https://acme.my.salesforce.com
    auth: {method: session, session_id: "${SF_SESSION}"}
  ma: {type: memory-ma, store: MA}
rules:
"""


def _salesforce_world(world: World, rules: str) -> tuple[object, dict[str, Connector], str]:
    """A file with a Salesforce connection ``sf``, served here by the memory CRM with a campaign of an
    18-character Salesforce id; returns the config, its connectors and the Nurture list's id."""
    world.crm.containers[CAMPAIGN_18] = MemoryContainer(
        CAMPAIGN_18, "Webinar", ContainerKind.CAMPAIGN, [MemberStatus("Sent", False, True, 1)]
    )
    nurture = world.ma_list("Nurture")
    world.ma_list("Copy")
    cfg = load_config_text(SALESFORCE.replace("MA", world.ma_name) + rules, "test.yaml", {"SF_SESSION": "x"})
    crm = build_connector("sf", world.config("").connections["crm"])
    connectors = {"sf": crm, "ma": build_connector("ma", cfg.connections["ma"])}
    return cfg, connectors, nurture


def test_a_loop_through_a_list_mirroring_the_source_campaign_in_its_15_character_form(world: World) -> None:
    rules = """
  - {name: out, from: {connection: sf, campaign: Webinar}, to: {connection: ma, list: Nurture}}
  - {name: copy, from: {connection: ma, list: Nurture}, to: {connection: ma, list: Copy}}
"""
    cfg, connectors, _ = _salesforce_world(world, rules)
    copy = world.ma.container_id("Copy")
    _mirroring(connectors["ma"], {copy: CAMPAIGN_15})  # Copy is the Salesforce campaign `out` reads
    problems = live_problems(cfg, connectors, {"out": 10, "copy": 11})  # type: ignore[arg-type]
    assert [(p.line, p.message) for p in problems] == [
        (10, "rule cycle: out → copy → out (each rule feeds the next one's source; break the loop)")
    ]


def test_a_rule_writing_a_list_that_mirrors_its_own_source_campaign_reads_and_writes_one_container(
    world: World,
) -> None:
    rules = """
  - {name: out, from: {connection: sf, campaign: Webinar}, to: {connection: ma, list: Nurture}}
"""
    cfg, connectors, nurture = _salesforce_world(world, rules)
    _mirroring(connectors["ma"], {nurture: CAMPAIGN_18})
    problems = [p.message for p in live_problems(cfg, connectors, {})]  # type: ignore[arg-type]
    assert problems == ["rule 'out' reads and writes the same container"]


def test_lists_mirroring_different_campaigns_are_no_loop(world: World) -> None:
    rules = """
  - {name: out, from: {connection: sf, campaign: Webinar}, to: {connection: ma, list: Nurture}}
  - {name: copy, from: {connection: ma, list: Nurture}, to: {connection: ma, list: Copy}}
"""
    cfg, connectors, _ = _salesforce_world(world, rules)
    copy = world.ma.container_id("Copy")
    _mirroring(connectors["ma"], {copy: "701Dn000009ZzZz"})
    assert live_problems(cfg, connectors, {}) == []  # type: ignore[arg-type]


# -- check_live, as `validate --live` calls it; a campaign with the list to write in it ----------------


def _check_live(world: World, rules: str) -> list[str]:
    cfg = world.config(rules, defaults=f"state: sqlite:///{world.tmp / 'live.db'}")
    return [n.message for n in check_live(cfg, {})]


def test_check_live_of_a_sound_file_returns_no_notes(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    assert _check_live(world, FINE) == []


def test_check_live_returns_the_note_of_a_target_mirroring_a_salesforce_campaign(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    monkeypatch.setattr(MemoryMA, "mirrors", lambda self, container: CAMPAIGN_18, raising=False)
    [note] = _check_live(world, FINE)
    assert note.startswith(f"rule 'fine' to: 'Nurture' is connected to Salesforce campaign {CAMPAIGN_18}")


def test_check_live_refuses_a_file_with_a_problem_naming_it(world: World) -> None:
    world.ma_list("Nurture")
    with pytest.raises(ConfigError) as raised:
        _check_live(world, FINE)
    assert "rule 'fine' from: " in str(raised.value)
    assert "Webinar" in str(raised.value)


def _campaign_lists(world: World, rules: str) -> ClientConfig:
    """A file whose rules target a campaign with the list to write in it (Dynamics' way): the loader refuses
    that on the memory systems, which have no such lists, so the rules are put in after loading."""
    cfg = world.config(FINE)
    parsed = yaml.safe_load(rules)
    return cfg.model_copy(update={"rules": tuple(Rule.model_validate(r) for r in parsed)})


def test_a_campaign_with_its_list_on_a_system_without_such_lists_is_a_problem(world: World) -> None:
    world.campaign("Webinar")
    world.ma_list("Nurture")
    rules = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, campaign: Spring, list: Nurture}
"""
    cfg = _campaign_lists(world, rules)
    connectors = world.engine(cfg).connectors
    system = connectors["ma"].system
    assert [p.message for p in live_problems(cfg, connectors, {})] == [
        f"rule 'web' to: ma: {system} has no lists linked to campaigns; name a campaign or a list"
    ]


def test_a_list_to_create_in_a_campaign_is_looked_up_as_the_rules_preferred_kind(world: World) -> None:
    world.campaign("Webinar")
    rules = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, campaign: Spring, list: Nurture, create_list: true}
    match: {prefer: lead}
"""
    cfg = _campaign_lists(world, rules)
    connectors = world.engine(cfg).connectors
    asked: list[tuple[str, str, str | None]] = []

    def find_campaign_list(campaign: str, name: str, *, create_as: str | None) -> Container:
        # as Dynamics does: a list not there yet stands for the list the first write creates, of that kind
        asked.append((campaign, name, create_as))
        if create_as is None:
            raise FatalError(f"ma: campaign {campaign!r} has no list {name!r}")
        return Container("ma", "new", name, ContainerKind.STATIC_LIST, member_kind=create_as)

    connectors["ma"].find_campaign_list = find_campaign_list  # type: ignore[attr-defined]
    assert live_problems(cfg, connectors, {}) == []
    assert asked == [("Spring", "Nurture", "lead")]
