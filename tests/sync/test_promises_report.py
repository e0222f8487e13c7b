"""The run report as `sync --json` and `plan --json` print it (and a held plan is saved): every field a
script reading it relies on."""

from __future__ import annotations

from tests.sync.world import World

RULES = """
  - name: att
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
    match: {create_missing: skip}
    mode: mirror
"""


def test_the_json_report_of_a_plan_lists_each_change_and_conflict(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    people = {e: world.crm_person(e) for e in ("stay@x.com", "up@x.com", "gone@x.com", "new@x.com")}
    for email in ("stay@x.com", "up@x.com", "gone@x.com"):
        world.ma.add_member(att, world.ma_person(email))
    world.ma.add_member(att, world.ma_person("stranger@x.com"))
    cfg = world.config(RULES)
    world.sync(cfg, "att")
    world.crm.containers[camp].members[people["up@x.com"]].status = "Invited"  # lowered in the CRM by hand
    world.store.write_ledger(
        [
            row._replace(status="Invited")
            for row in world.store.ledger("att", world.store.ledger_keys("att")).values()
            if row.target_record_id == people["up@x.com"]
        ]
    )
    world.ma.remove_member(att, next(p for p, r in world.ma.people.items() if r.email == "gone@x.com"))
    world.ma.add_member(att, world.ma_person("new@x.com"))

    report = world.engine(cfg).plan("att", full=True)
    out = report.as_json()

    assert set(out["timings"]) >= {"resolve", "plan"}
    del out["timings"]
    assert out == {
        "rule": "att",
        "mode": "plan",
        "run_id": None,
        "status": "planned",
        "message": "",
        "full_read": True,
        "read": 4,
        "planned": {"adds": 1, "status_changes": 1, "removals": 1},
        "changes": {
            "adds": [{"action": "add", "email": "new@x.com", "status": "Attended", "target": None}],
            "status_changes": [
                {
                    "action": "set_status",
                    "email": "up@x.com",
                    "status": "Attended",
                    "target": f"crm:Contact:{people['up@x.com']}",
                }
            ],
            "removals": [
                {
                    "action": "remove",
                    "email": "gone@x.com",
                    "status": None,
                    "target": f"crm:Contact:{people['gone@x.com']}",
                }
            ],
        },
        "counts": {},
        "conflicts": [],
        "api_calls": out["api_calls"],
    }


def test_the_json_report_of_a_sync_counts_what_it_did_and_names_each_conflict(world: World) -> None:
    world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.crm_person("ada@x.com")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.ma.add_member(att, world.ma_person("stranger@x.com"))
    report = world.sync(world.config(RULES), "att")
    out = report.as_json()
    assert (out["mode"], out["status"], out["full_read"], out["read"]) == ("sync", "ok", True, 2)
    assert isinstance(out["run_id"], int)
    assert out["counts"] == {"added": 1, "conflicts": 1, "unmatched": 1}
    assert out["conflicts"] == [
        {
            "kind": "unmatched_person",
            "email": "stranger@x.com",
            "detail": "no record with this email in the target, and the rule says create_missing: skip",
            "container": "",
        }
    ]
    assert out["api_calls"] == report.api_calls
