"""The canonical model: what every part past ``connectors/`` speaks.

A connector reads its system's dialect and answers in these value objects; the engine never sees a
vendor payload. All of them are frozen and slotted: they are facts about one moment of a system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


def normalise_email(raw: str | None) -> str | None:
    """The comparison form of an email: trimmed and lower-cased; ``None`` when there is none.

    Emails are matched case-insensitively by every system we sync (Salesforce, HubSpot, Marketo, Pardot),
    so this is the key of the identity crosswalk. Internal whitespace is kept: such an address is
    invalid and the target will reject it, which is logged rather than silently "fixed".
    """
    if raw is None:
        return None
    email = raw.strip().lower()
    return email or None


@dataclass(frozen=True, slots=True)
class RecordRef:
    """One record in one connected system: ``salesforce:Contact:003…``, ``hubspot:contact:51``.

    ``connection`` is the connection name from the client file (two Salesforce orgs are two
    connections); ``kind`` is the system's record type (Lead, Contact, contact, prospect).
    """

    connection: str
    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.connection}:{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as one system holds them, as returned by a lookup or a member read.

    ``converted_to`` names the surviving record of a converted lead (Salesforce ``ConvertedContactId``);
    ``merged_into`` the survivor of a merge. ``deleted`` marks a record that no longer exists.
    """

    ref: RecordRef
    email: str | None
    converted_to: RecordRef | None = None
    merged_into: RecordRef | None = None
    deleted: bool = False

    @property
    def survivor(self) -> RecordRef:
        """The record that membership should follow."""
        return self.converted_to or self.merged_into or self.ref


@dataclass(frozen=True, slots=True)
class PersonDraft:
    """A person to create in a target system because a rule says ``create_missing``."""

    email: str
    kind: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One entry of a CRM campaign's ordered member-status list (Salesforce CampaignMemberStatus).

    ``rank`` orders statuses from first touch to strongest engagement; a member's status never moves
    to a lower rank.
    """

    label: str
    responded: bool = False
    default: bool = False
    rank: int = 0


class ContainerKind(StrEnum):
    """What a membership container is, across systems. See ``mapping/semantics.py``."""

    CAMPAIGN = "campaign"  # a CRM campaign object (Salesforce Campaign, Dynamics campaign, Sugar Campaigns)
    STATIC_LIST = "static_list"  # HubSpot MANUAL/SNAPSHOT, Marketo/Pardot static lists, AC lists
    DYNAMIC_LIST = "dynamic_list"  # HubSpot DYNAMIC, Pardot dynamic list, Marketo smart list
    PROGRAM = "program"  # Marketo program, with per-member program status
    EXCLUSIVE_CAMPAIGN = "exclusive_campaign"  # Pardot prospect campaign: one per prospect
    TAG = "tag"  # ActiveCampaign tag
    EMAIL_SEND = "email_send"  # ActiveCampaign "campaign": not a membership container
    ASSET_CAMPAIGN = "asset_campaign"  # HubSpot campaign: a folder of assets, not a membership container
    SMART_CAMPAIGN = "smart_campaign"  # Marketo smart campaign: a triggered flow


@dataclass(frozen=True, slots=True)
class Container:
    """A campaign, list or other thing people can be members of, in one connection.

    Capabilities come from ``mapping.semantics`` for the container's kind, refined by what the
    system says of this one container (a HubSpot list's processing type decides ``writable``).
    ``statuses`` is the ordered member-status list of a CRM campaign or Marketo program, else empty.
    ``family`` groups exclusive containers: a person is in at most one container of a family.
    ``size`` is how many members the system says the container has, when it says so without a read of
    its members (a Salesforce campaign's NumberOfContacts + NumberOfLeads, a HubSpot list's
    ``hs_list_size``); where the system gives none, the engine fills in, for a rule's source, how many
    records the rule's last full read of it found (an estimate a connector may choose its way of reading by). ``membership_version`` is an opaque token that changes whenever the members change
    (a HubSpot list's size with its last-added and last-removed times): a source whose token has not moved
    since the last successful full read need not be read again. ``None`` when the system gives none.
    """

    connection: str
    id: str
    name: str
    kind: ContainerKind
    writable: bool = True
    exclusive: bool = False
    has_status: bool = False
    family: str | None = None
    statuses: tuple[MemberStatus, ...] = ()
    details: CampaignDetails | None = None
    size: int | None = None
    membership_version: str | None = None
    #: The one kind of person the container holds, where the system fixes it (a Dynamics marketing list:
    #: contact, lead or account); ``None`` where any person kind may be a member.
    member_kind: str | None = None
    #: Why the system refuses writes to this one container (a locked Dynamics list), when ``writable`` is
    #: False for a reason of its own rather than its kind's.
    read_only_reason: str | None = None

    def status(self, label: str) -> MemberStatus | None:
        """The member status with this label (case-insensitive), or ``None``."""
        folded = label.casefold()
        return next((s for s in self.statuses if s.label.casefold() == folded), None)

    @property
    def default_status(self) -> MemberStatus | None:
        return next((s for s in self.statuses if s.default), self.statuses[0] if self.statuses else None)

    def outranks(self, current: str | None, wanted: str | None) -> bool:
        """Whether a member's ``current`` status ranks above ``wanted``: writing ``wanted`` would move the
        member down, which never happens. Connectors check it against the status the system holds now, so a
        member raised by hand since the ledger last saw them is not lowered by a status change planned from it.
        """
        if current is None or wanted is None:
            return False
        rank = {s.label: s.rank for s in self.statuses}
        return rank.get(current, 0) > rank.get(wanted, 0)


@dataclass(frozen=True, slots=True)
class CampaignDetails:
    """The CRM-side facts of a campaign object: what a list does not have."""

    type: str | None = None
    status: str | None = None
    active: bool = True
    start_date: date | None = None
    end_date: date | None = None
    budgeted_cost: float | None = None
    actual_cost: float | None = None
    expected_revenue: float | None = None


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """One member of a source (container or segment) as read from its system.

    ``status`` is the member status where the container has one. ``modified_at`` is the source's own
    modification stamp (used for watermarks); ``removed`` marks a membership seen deleted in a
    deleted-records read (Salesforce ``queryAll`` with ``IsDeleted``).
    """

    person: PersonRecord
    status: str | None = None
    modified_at: datetime | None = None
    removed: bool = False
    tie_id: str = ""


class ChangeAction(StrEnum):
    ADD = "add"
    SET_STATUS = "set_status"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class Change:
    """One membership change for ``apply_changes``; ``status`` for ADD/SET_STATUS on status targets.

    ``replace`` (exclusive containers only) allows moving the person out of the family's other
    container they occupy.
    """

    action: ChangeAction
    target: RecordRef
    status: str | None = None
    replace: bool = False


class OutcomeState(StrEnum):
    APPLIED = "applied"  # done as asked
    ALREADY_PRESENT = "already_present"  # an add found the person already a member (``current_status``)
    ALREADY_ABSENT = "already_absent"  # a removal found the person not a member
    OCCUPIED = "occupied"  # exclusive family: the person sits in ``occupant`` and replace was false
    REJECTED = "rejected"  # the target refused this record; do not retry unchanged
    FAILED = "failed"  # a transient failure of this item; retry on a later run


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What happened to one ``Change``; ``apply_changes`` returns one per change, in order."""

    change: Change
    state: OutcomeState
    code: str | None = None
    message: str | None = None
    current_status: str | None = None
    occupant: str | None = None


@dataclass(frozen=True, slots=True)
class CreateOutcome:
    """What happened to one ``PersonDraft``: the new record, or why it was refused."""

    draft: PersonDraft
    record: PersonRecord | None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """API use a connector has seen: calls made in this process and the vendor's own counters."""

    calls: int = 0
    used: int | None = None
    limit: int | None = None
    by_endpoint: dict[str, int] = field(default_factory=dict)
