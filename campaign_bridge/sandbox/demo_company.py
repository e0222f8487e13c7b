"""The demo company, described once for every system: Northwind, whose sales team works in a CRM and
whose marketing team works in a marketing-automation (MA) system.

The same people appear in both: ``COMPANY.crm`` is how the CRM holds them (contacts, leads, campaign
memberships), ``COMPANY.ma`` what the MA system knows of them (scores, e-mail behaviour, forms). Each
sandbox's ``seed_demo`` builds its own view from this one description (a CRM sandbox from ``crm``, an MA
sandbox from ``ma``), so a new system is seeded with the same people and the same awkward cases:

* duplicates: Linus is both a Lead (a trade-show import) and a Contact sales created later;
* a converted person: Margaret attended the webinar as a Lead, then was converted to a Contact;
* a record the CRM refuses: marketing imported ``bad address@globex.example`` (a space in it);
* a list that cannot be written: "Clicked a marketing email" is computed by the MA system.

``campaign-bridge demo`` and ``campaign-bridge sandbox serve --seed demo`` both start from it; the rules in
``campaign_bridge/demo.py`` are written against these names. Order matters: records are created in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

WEBINAR = "Webinar 2026-Q4"
PRICING = "Pricing interest 2026"
EMAIL_HEALTH = "Email health 2026"
WIN_BACK = "Win-back 2026"
ENGAGEMENT = "Email engagement 2026"
NURTURE_LIST = "Webinar Q4 nurture"
CLICKED_LIST = "Clicked a marketing email"  # computed by the MA system: nobody can write to it
PRICING_FORM = "Pricing request"

#: How long ago "recent" and "old" activity happened (the rules look back 30 and 60 days).
RECENT, OLD = timedelta(days=3), timedelta(days=90)


class CrmAs(StrEnum):
    """How the CRM holds a person."""

    CONTACT = "contact"
    LEAD = "lead"
    #: A lead who joined their campaigns as a lead and was then converted to a contact.
    CONVERTED_LEAD = "converted_lead"


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""


@dataclass(frozen=True, slots=True)
class Campaign:
    """A CRM campaign with its member statuses ((label, responded), the first is the default)."""

    name: str
    type: str
    statuses: tuple[tuple[str, bool], ...]
    #: Start and end relative to today, and a budget, where sales planned them.
    starts_in: timedelta | None = None
    ends_in: timedelta | None = None
    budget: int | None = None


@dataclass(frozen=True, slots=True)
class CrmRecord:
    """A person as the CRM holds them, with their campaign memberships ((campaign, status))."""

    person: Person
    held_as: CrmAs
    campaigns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MaList:
    """An MA list; ``clicked`` ones are computed by the system (people who clicked a marketing e-mail)."""

    name: str
    clicked: bool = False


@dataclass(frozen=True, slots=True)
class MaRecord:
    """What the MA system knows of a person. ``None`` or 0 means it never recorded that fact."""

    person: Person
    #: Whether marketing holds the person's first name and company (an import often has the address only).
    named: bool = False
    with_company: bool = False
    score: int | None = None
    opens: int = 0
    clicks: int = 0
    last_click_ago: timedelta | None = None
    last_activity_ago: timedelta | None = None
    #: The last form submitted and how long ago.
    form: tuple[str, timedelta] | None = None
    bounces: int = 0
    hard_bounced: bool = False


@dataclass(frozen=True, slots=True)
class Company:
    campaigns: tuple[Campaign, ...]
    crm: tuple[CrmRecord, ...]
    lists: tuple[MaList, ...]
    ma: tuple[MaRecord, ...]

    def accounts(self) -> list[str]:
        """The companies of the CRM's contacts, in order of first appearance (a CRM's accounts)."""
        seen: dict[str, None] = {}
        for rec in self.crm:
            if rec.held_as is CrmAs.CONTACT and rec.person.company:
                seen.setdefault(rec.person.company)
        return list(seen)


ADA = Person("ada@northwind.example", "Ada", "Lovelace", "Northwind")
GRACE = Person("grace@contoso.example", "Grace", "Hopper", "Contoso")
EDSGER = Person("edsger@tailspin.example", "Edsger", "Dijkstra", "Tailspin")
ALAN = Person("alan@fabrikam.example", "Alan", "Turing", "Fabrikam")
BARBARA = Person("barbara@litware.example", "Barbara", "Liskov", "Litware")
MARGARET = Person("margaret@hooli.example", "Margaret", "Hamilton", "Hooli")
LINUS = Person("linus@initech.example", "Linus", "Torvalds", "Initech")
BOB = Person("bounced@initech.example", "Bob", "Bounce", "Initech")
SAM = Person("soft@hooli.example", "Sam", "Soft", "Hooli")
QUINN = Person("quiet@litware.example", "Quinn", "Quiet", "Litware")
KEN = Person("ken@umbrella.example", "Ken", "Thompson", "Umbrella")
NINA = Person("new.buyer@globex.example", "Nina", "", "Globex")
STALE = Person("stale@globex.example")
BAD_ADDRESS = Person("bad address@globex.example")  # HubSpot kept it; a CRM refuses it
GONE = Person("gone@wayne.example")

COMPANY = Company(
    campaigns=(
        Campaign(
            WEBINAR,
            "Webinar",
            (("Invited", False), ("Registered", False), ("Attended", True)),
            starts_in=timedelta(days=-20),
            ends_in=timedelta(days=40),
            budget=12000,
        ),
        Campaign(PRICING, "Other", (("Sent", False), ("Responded", True))),
        Campaign(EMAIL_HEALTH, "Email", (("Sent", False), ("Bounced", False))),
        Campaign(WIN_BACK, "Email", (("Sent", False), ("Gone quiet", False), ("Re-engaged", True))),
        Campaign(ENGAGEMENT, "Email", (("Sent", False), ("Opened", True), ("Clicked", True))),
    ),
    crm=(
        # The webinar: registrants and attendees (Contacts and Leads), one who was only invited.
        CrmRecord(ADA, CrmAs.CONTACT, ((WEBINAR, "Attended"),)),
        CrmRecord(GRACE, CrmAs.CONTACT, ((WEBINAR, "Registered"),)),
        CrmRecord(EDSGER, CrmAs.CONTACT, ((WEBINAR, "Invited"),)),
        CrmRecord(ALAN, CrmAs.LEAD, ((WEBINAR, "Registered"),)),
        CrmRecord(BARBARA, CrmAs.LEAD, ((WEBINAR, "Attended"),)),
        # Attended, then converted: the membership follows the new contact.
        CrmRecord(MARGARET, CrmAs.CONVERTED_LEAD, ((WEBINAR, "Attended"),)),
        # The same person twice.
        CrmRecord(LINUS, CrmAs.LEAD),
        CrmRecord(LINUS, CrmAs.CONTACT),
        # People marketing will report on.
        CrmRecord(BOB, CrmAs.CONTACT),
        CrmRecord(SAM, CrmAs.CONTACT),
        CrmRecord(QUINN, CrmAs.CONTACT),
        # A member sales added by hand: no rule ever removes them.
        CrmRecord(KEN, CrmAs.CONTACT, ((PRICING, "Sent"),)),
    ),
    lists=(MaList(NURTURE_LIST), MaList(CLICKED_LIST, clicked=True)),
    ma=(
        MaRecord(
            ADA,
            named=True,
            score=80,
            opens=9,
            clicks=3,
            last_click_ago=RECENT,
            last_activity_ago=RECENT,
        ),
        MaRecord(GRACE, named=True, opens=2, clicks=1),
        MaRecord(LINUS, named=True, score=55, form=(PRICING_FORM, RECENT)),
        MaRecord(NINA, named=True, with_company=True, form=(PRICING_FORM, RECENT), clicks=1),
        MaRecord(STALE, form=(PRICING_FORM, OLD)),
        MaRecord(BAD_ADDRESS, form=(PRICING_FORM, RECENT)),
        MaRecord(BOB, hard_bounced=True, bounces=1),
        MaRecord(SAM, bounces=5),
        MaRecord(GONE, hard_bounced=True, bounces=1),
        MaRecord(QUINN, last_activity_ago=OLD, bounces=1),
    ),
)
