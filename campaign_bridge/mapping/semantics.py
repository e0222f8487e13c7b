"""What "campaign" (and every other membership container) means in each system, written down once.

The config validator and the engine consult this table; connectors refine a container's capabilities
from what the system says about it (a HubSpot list's processing type), never contradict it.
A rule names its source or target with one of the ``keys`` below (``campaign:``, ``list:``, ``tag:``…).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from campaign_bridge.mapping.model import ContainerKind


class Role(StrEnum):
    CRM = "crm"
    MA = "ma"


@dataclass(frozen=True, slots=True)
class KindSemantics:
    """How one kind of container behaves in one system, and what to say when it cannot be a target."""

    kind: ContainerKind
    holds_membership: bool
    writable: bool
    exclusive: bool = False
    has_status: bool = False
    why_not: str = ""  # why it cannot be a target, and what to target instead


@dataclass(frozen=True, slots=True)
class SystemSemantics:
    system: str
    role: Role
    campaign_means: str
    person_kinds: tuple[str, ...]
    #: rule-file key → the container kinds that key may name in this system
    keys: dict[str, tuple[KindSemantics, ...]]


_CRM_CAMPAIGN = KindSemantics(ContainerKind.CAMPAIGN, holds_membership=True, writable=True, has_status=True)
_STATIC = KindSemantics(ContainerKind.STATIC_LIST, holds_membership=True, writable=True)


def _dynamic(system_words: str, instead: str) -> KindSemantics:
    return KindSemantics(
        ContainerKind.DYNAMIC_LIST,
        holds_membership=True,
        writable=False,
        why_not=f"{system_words} is computed by the system from its own filter, so nobody can add or remove "
        f"members; use it as a rule's source, or target {instead}",
    )


SEMANTICS: dict[str, SystemSemantics] = {
    "salesforce": SystemSemantics(
        "salesforce",
        Role.CRM,
        "an object with type, status, dates, costs and expected revenue; members are Leads or Contacts "
        "(CampaignMember), each with a status from the campaign's CampaignMemberStatus list",
        ("Lead", "Contact"),
        {"campaign": (_CRM_CAMPAIGN,)},
    ),
    "dynamics": SystemSemantics(
        "dynamics",
        Role.CRM,
        "a campaign entity with costs and dates that holds no members itself: its members are those of the "
        "marketing lists linked to it (campaignlist_association); a member's status is its campaign response",
        ("contact", "lead"),
        {
            # As a source: the union of its linked lists' members, each with its campaign-response status.
            "campaign": (
                KindSemantics(
                    ContainerKind.CAMPAIGN,
                    holds_membership=True,
                    writable=False,
                    has_status=True,
                    why_not="a Dynamics campaign holds no members itself, only the marketing lists linked to it; "
                    "name the static list to write as well: to: {campaign: …, list: …} (create_list: true "
                    "creates and links it)",
                ),
            ),
            # One type of member per list (contact, lead or account: createdfromcode); a locked static list
            # (lockstatus) takes no new members, which the connector says of that list.
            "list": (_STATIC, _dynamic("a Dynamics dynamic marketing list (a FetchXML query)", "a static list")),
            # ``to: {campaign: C, list: L}``: a static list linked to C; its statuses are C's campaign
            # responses (Member: none; a response code: a campaignresponse written for the person).
            "campaign_list": (
                KindSemantics(ContainerKind.STATIC_LIST, holds_membership=True, writable=True, has_status=True),
                _dynamic("a Dynamics dynamic marketing list (a FetchXML query)", "a static list"),
            ),
        },
    ),
    "sugarcrm": SystemSemantics(
        "sugarcrm",
        Role.CRM,
        "a Campaigns record; membership lives in target lists (ProspectLists) linked to it",
        ("Contacts", "Leads", "Prospects"),
        {"campaign": (_CRM_CAMPAIGN,), "list": (_STATIC,)},
    ),
    "hubspot": SystemSemantics(
        "hubspot",
        Role.MA,
        "a folder of marketing assets (emails, forms, pages) with a budget; it has no members",
        ("contact",),
        {
            "list": (_STATIC, _dynamic("a DYNAMIC (active) HubSpot list", "a MANUAL or SNAPSHOT list")),
            "campaign": (
                KindSemantics(
                    ContainerKind.ASSET_CAMPAIGN,
                    holds_membership=False,
                    writable=False,
                    why_not="a HubSpot campaign groups assets (emails, forms, pages) and has no members; "
                    "target a MANUAL list instead",
                ),
            ),
        },
    ),
    "pardot": SystemSemantics(
        "pardot",
        Role.MA,
        "a required attribute of every prospect: one campaign per prospect (first touch), "
        "paired 1:1 with a Salesforce campaign when connected. As a target the campaign is exclusive: "
        "the rule's exclusive policy decides whether a prospect moves from the campaign it has, and a "
        "removal never leaves a prospect campaign-less: it moves the prospect to the connection's "
        "removal_campaign, or, when none is set, leaves it where it is and reports the removal refused. "
        "A static list membership carries optedOut; removing it deletes the membership, never opts out",
        ("prospect",),
        {
            "list": (
                _STATIC,
                _dynamic(
                    "an Account Engagement dynamic list (its members follow its criteria, and v5 refuses to "
                    "create or delete its memberships)",
                    "a static list",
                ),
            ),
            "campaign": (
                KindSemantics(ContainerKind.EXCLUSIVE_CAMPAIGN, holds_membership=True, writable=True, exclusive=True),
            ),
        },
    ),
    "marketo": SystemSemantics(
        "marketo",
        Role.MA,
        "programs, whose members each hold one program status from the program's channel (ordered steps "
        "such as Invited → Registered → Attended, some marked success; a status never moves down a step), "
        "and smart campaigns (flows triggered by behaviour, with no members); people are leads keyed by "
        "email, duplicates allowed",
        ("lead",),
        {
            "list": (
                _STATIC,
                _dynamic("a Marketo smart list", "a static list (or a program, to carry a status)"),
            ),
            # Removing a program member deletes its membership and status history (Delete Program
            # Members); a mirror rule only ever removes members it added itself.
            "program": (KindSemantics(ContainerKind.PROGRAM, holds_membership=True, writable=True, has_status=True),),
            "smart_campaign": (
                KindSemantics(
                    ContainerKind.SMART_CAMPAIGN,
                    holds_membership=False,
                    writable=False,
                    why_not="a Marketo smart campaign is a flow that runs when someone does something; it has "
                    "no members to write; target a static list, or a program with a status",
                ),
            ),
        },
    ),
    "activecampaign": SystemSemantics(
        "activecampaign",
        Role.MA,
        "an email send: not a membership container at all",
        ("contact",),
        {
            "list": (_STATIC,),
            "tag": (KindSemantics(ContainerKind.TAG, holds_membership=True, writable=True),),
            "campaign": (
                KindSemantics(
                    ContainerKind.EMAIL_SEND,
                    holds_membership=False,
                    writable=False,
                    why_not="an ActiveCampaign campaign is an email send, not a group of people; "
                    "target a list or a tag instead",
                ),
            ),
        },
    ),
}

# The memory pair behaves like a typical CRM and a typical MA system, with every kind of audience,
# exclusive and dynamic ones included, so the engine's handling of each can be tested without a vendor.
SEMANTICS["memory-crm"] = SystemSemantics(
    "memory-crm",
    Role.CRM,
    "an in-memory CRM campaign with ordered member statuses (for tests and the offline demo)",
    ("Lead", "Contact"),
    {"campaign": (_CRM_CAMPAIGN,)},
)
SEMANTICS["memory-ma"] = SystemSemantics(
    "memory-ma",
    Role.MA,
    "in-memory lists of every kind (for tests and the offline demo)",
    ("contact",),
    {
        "list": (_STATIC, _dynamic("a dynamic list", "a static list")),
        "campaign": (
            KindSemantics(ContainerKind.EXCLUSIVE_CAMPAIGN, holds_membership=True, writable=True, exclusive=True),
            KindSemantics(
                ContainerKind.EMAIL_SEND,
                holds_membership=False,
                writable=False,
                why_not="this campaign is an email send, not a group of people; target a list instead",
            ),
        ),
        "program": (KindSemantics(ContainerKind.PROGRAM, holds_membership=True, writable=True, has_status=True),),
    },
)


def kinds_for(system: str, key: str) -> tuple[KindSemantics, ...]:
    """The container kinds that ``key`` (``campaign``, ``list``…) may name in ``system``; empty if none."""
    sem = SEMANTICS.get(system)
    return sem.keys.get(key, ()) if sem else ()


def target_refusal(system: str, kind: ContainerKind) -> str | None:
    """Why a container of this kind cannot be a rule's target, or ``None`` when it can."""
    sem = SEMANTICS.get(system)
    if sem is None:
        return f"unknown system {system!r}"
    for kinds in sem.keys.values():
        for k in kinds:
            if k.kind is kind:
                return None if k.writable else k.why_not
    return f"a {kind} is not a container campaign-bridge knows in {system}"


def static_target_refusal(system: str, key: str) -> str | None:
    """Refusal known from the rule file alone: every kind the key can name is unwritable."""
    kinds = kinds_for(system, key)
    if not kinds:
        sem = SEMANTICS.get(system)
        known = ", ".join(sem.keys) if sem else ""
        return f"{system} has no '{key}' containers; it has: {known}"
    if all(not k.writable for k in kinds):
        return kinds[0].why_not
    return None
