"""Salesforce's translation as a reader of it notices: an incremental read since a watermark misses no
member stamped in the watermark's own second, and a quoted value matches exactly itself."""

from __future__ import annotations

from datetime import timedelta

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.sandbox.salesforce import SalesforceSandbox


def test_an_incremental_read_includes_members_stamped_in_the_watermarks_second(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state, clock = sandbox.state, sandbox.state.clock
    cid = state.add_campaign("Webinar")
    state.add_member(cid, state.add_contact("before@x.com"))
    clock.tick(10)
    mark = clock()
    state.add_member(cid, state.add_contact("first@x.com"))
    state.add_member(cid, state.add_contact("second@x.com"))  # the same second
    container = conn.find_container("campaign", cid)

    rows = list(conn.read_members(container, since=Watermark(mark), until=mark + timedelta(seconds=30)))
    assert {r.person.email for r in rows} == {"first@x.com", "second@x.com"}

    # A watermark inside that second (a stamp with a fraction) still reads the whole second.
    rows = list(conn.read_members(container, since=Watermark(mark + timedelta(milliseconds=400))))
    assert {r.person.email for r in rows} == {"first@x.com", "second@x.com"}


def test_an_incremental_read_ends_at_its_until_bound_rounded_up_to_the_second(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state, clock = sandbox.state, sandbox.state.clock
    cid = state.add_campaign("Webinar")
    start = clock()
    clock.tick(0.2)
    state.add_member(cid, state.add_contact("in@x.com"))  # stamped within the until bound's second
    clock.tick(5)
    state.add_member(cid, state.add_contact("later@x.com"))
    container = conn.find_container("campaign", cid)
    rows = list(conn.read_members(container, since=Watermark(start), until=start + timedelta(milliseconds=300)))
    assert {r.person.email for r in rows} == {"in@x.com"}


def test_people_whose_emails_carry_soql_quote_characters_are_found_exactly(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    odd = ["o'brien@x.com", 'say"hi@x.com', "back\\slash@x.com"]
    ids = {email: state.add_contact(email) for email in odd}
    state.add_contact("obrien@x.com")
    found = conn.lookup_people([*odd, "nobody'@x.com"])
    assert {email: [r.ref.id for r in records] for email, records in found.items()} == {
        email: [ids[email]] for email in odd
    }
