"""People in HubSpot: lookups by email and contacts created for ``create_missing``."""

from __future__ import annotations

from campaign_bridge.mapping.model import PersonDraft
from tests.contract.harness_hubspot import HubSpotHarness


def test_lookup_batches_by_email_and_leaves_misses_out(hs: HubSpotHarness) -> None:
    ids = hs.sb.state.bulk_add_contacts([f"Known{i}@Example.com" for i in range(150)])
    conn = hs.connector()
    hs.sb.server.reset_log()

    found = conn.lookup_people([f"known{i}@example.com" for i in range(150)] + ["stranger@example.com"])

    assert {email: [r.ref.id for r in recs] for email, recs in found.items()} == {
        f"known{i}@example.com": [ids[i]] for i in range(150)
    }
    assert hs.sb.server.calls("/batch/read") == 2  # 100 + 51 emails


def test_create_reports_each_refused_draft_and_creates_the_rest(hs: HubSpotHarness) -> None:
    conn = hs.connector()
    drafts = [PersonDraft(f"new{i}@example.com", "contact", f"N{i}", "Person") for i in range(6)]
    drafts.insert(3, PersonDraft("typo@example", "contact"))  # HubSpot refuses it; our quick check does not

    outcomes = conn.create_people(drafts)

    refused = outcomes[3]
    assert (refused.record, refused.code) == (None, "VALIDATION_ERROR")
    assert "typo@example" in (refused.message or "")
    created = [o for i, o in enumerate(outcomes) if i != 3]
    assert all(o.record is not None and o.record.email == o.draft.email for o in created)
    for o in created:
        assert o.record is not None
        assert hs.sb.state.get_contact(o.record.ref.id)["firstname"] == o.draft.first_name


def test_creating_again_finds_the_same_contacts(hs: HubSpotHarness) -> None:
    conn = hs.connector()
    drafts = [PersonDraft("again@example.com", "contact", "Ann")]
    first = conn.create_people(drafts)[0].record
    second = conn.create_people(drafts)[0].record

    assert first is not None
    assert second is not None
    assert first.ref == second.ref
    assert hs.sb.state.find_contact("again@example.com") == first.ref.id
