"""The sObjects the emulated org knows: fields, types, write rules and relationships.

Names are case-insensitive in SOQL and in request bodies, as in Salesforce; every lookup goes through
``ObjectDef.field(name)`` which answers the canonical ``FieldDef`` or None. Child-to-parent relationships
are named on the reference field (``CampaignMember.Contact``); parent-to-child ones, which SOQL
subqueries name (``SELECT (SELECT Label FROM CampaignMemberStatuses) FROM Campaign``), are listed in
``CHILD_RELATIONSHIPS`` and found with ``child_relationship``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Field types as describe reports them. Text-like types compare case-insensitively in SOQL.
TEXT_TYPES = frozenset({"string", "email", "picklist", "textarea", "phone", "url"})
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"currency", "double", "int", "percent"})


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field. ``computed`` fields are derived by the state and never stored."""

    name: str
    type: str
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    required: bool = False  # on create (and may not be cleared by update)
    reference_to: str | None = None
    relationship_name: str | None = None
    computed: bool = False
    label: str = ""

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def is_id(self) -> bool:
        return self.type in ID_TYPES

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "defaultedOnCreate": not self.createable or self.type == "boolean",
            "filterable": True,
            "sortable": True,
            "custom": False,
            "externalId": False,
            "idLookup": self.name == "Id" or self.name == "Email",
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
            "length": 255 if self.is_text else 18 if self.is_id else 0,
        }


@dataclass(frozen=True, slots=True)
class ObjectDef:
    name: str
    prefix: str
    fields: tuple[FieldDef, ...]
    by_lower: dict[str, FieldDef] = field(default_factory=dict)
    relationships: dict[str, FieldDef] = field(default_factory=dict)  # lower relationship name → reference field

    def __post_init__(self) -> None:
        for f in self.fields:
            self.by_lower[f.name.lower()] = f
            if f.relationship_name:
                self.relationships[f.relationship_name.lower()] = f

    def field(self, name: str) -> FieldDef | None:
        return self.by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        return self.relationships.get(name.lower())

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name,
            "keyPrefix": self.prefix,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "retrieveable": True,
            "custom": False,
            "fields": [f.describe() for f in self.fields],
            "childRelationships": [c.describe() for c in CHILD_RELATIONSHIPS.get(self.name.lower(), {}).values()],
            "urls": {"sobject": f"/services/data/v59.0/sobjects/{self.name}"},
        }


def _system(owner: bool = False) -> tuple[FieldDef, ...]:
    fields = [
        FieldDef("Id", "id", createable=False, updateable=False, nillable=False),
        FieldDef("IsDeleted", "boolean", createable=False, updateable=False, nillable=False),
        FieldDef("CreatedById", "reference", createable=False, updateable=False, reference_to="User"),
        FieldDef("CreatedDate", "datetime", createable=False, updateable=False, nillable=False),
        FieldDef("LastModifiedDate", "datetime", createable=False, updateable=False, nillable=False),
        FieldDef("SystemModstamp", "datetime", createable=False, updateable=False, nillable=False),
    ]
    if owner:
        fields.append(FieldDef("OwnerId", "reference", nillable=False, reference_to="User"))
    return tuple(fields)


def _ref(name: str, to: str, relationship: str | None, **kw: Any) -> FieldDef:
    return FieldDef(name, "reference", reference_to=to, relationship_name=relationship, **kw)


def _read_only(name: str, type_: str) -> FieldDef:
    return FieldDef(name, type_, createable=False, updateable=False)


CAMPAIGN = ObjectDef(
    "Campaign",
    "701",
    (
        *_system(owner=True),
        FieldDef("Name", "string", nillable=False, required=True),
        FieldDef("Type", "picklist"),
        FieldDef("Status", "picklist"),
        FieldDef("StartDate", "date"),
        FieldDef("EndDate", "date"),
        FieldDef("IsActive", "boolean", nillable=False),
        FieldDef("BudgetedCost", "currency"),
        FieldDef("ActualCost", "currency"),
        FieldDef("ExpectedRevenue", "currency"),
        FieldDef("ExpectedResponse", "percent"),
        FieldDef("NumberSent", "double"),
        FieldDef("Description", "textarea"),
        _ref("ParentId", "Campaign", "Parent"),
        _read_only("NumberOfLeads", "int"),
        _read_only("NumberOfContacts", "int"),
        _read_only("NumberOfResponses", "int"),
        _read_only("NumberOfConvertedLeads", "int"),
    ),
)

CAMPAIGN_MEMBER_STATUS = ObjectDef(
    "CampaignMemberStatus",
    "01Y",
    (
        *_system(),
        _ref("CampaignId", "Campaign", None, updateable=False, nillable=False, required=True),
        FieldDef("Label", "string", nillable=False, required=True),
        FieldDef("HasResponded", "boolean", nillable=False),
        FieldDef("IsDefault", "boolean", nillable=False),
        FieldDef("SortOrder", "int"),
    ),
)

CAMPAIGN_MEMBER = ObjectDef(
    "CampaignMember",
    "00v",
    (
        *_system(),
        _ref("CampaignId", "Campaign", "Campaign", updateable=False, nillable=False, required=True),
        _ref("LeadId", "Lead", "Lead", updateable=False),
        _ref("ContactId", "Contact", "Contact", updateable=False),
        FieldDef("LeadOrContactId", "reference", createable=False, updateable=False, computed=True),
        FieldDef("Status", "picklist"),
        FieldDef("HasResponded", "boolean", createable=False, updateable=False, nillable=False, computed=True),
        FieldDef("Type", "string", createable=False, updateable=False, computed=True),
        _read_only("FirstRespondedDate", "date"),
    ),
)

LEAD = ObjectDef(
    "Lead",
    "00Q",
    (
        *_system(owner=True),
        FieldDef("FirstName", "string"),
        FieldDef("LastName", "string", nillable=False, required=True),
        FieldDef("Company", "string", nillable=False, required=True),
        FieldDef("Email", "email"),
        FieldDef("Title", "string"),
        FieldDef("Phone", "phone"),
        FieldDef("Status", "picklist", nillable=False),
        FieldDef("LeadSource", "picklist"),
        FieldDef("Country", "string"),
        # The latest due date of the record's tasks and events; Salesforce maintains it (see set_last_activity).
        _read_only("LastActivityDate", "date"),
        _read_only("IsConverted", "boolean"),
        _ref("ConvertedContactId", "Contact", "ConvertedContact", createable=False, updateable=False),
        _ref("ConvertedAccountId", "Account", "ConvertedAccount", createable=False, updateable=False),
        _read_only("ConvertedDate", "date"),
    ),
)

CONTACT = ObjectDef(
    "Contact",
    "003",
    (
        *_system(owner=True),
        FieldDef("FirstName", "string"),
        FieldDef("LastName", "string", nillable=False, required=True),
        FieldDef("Email", "email"),
        FieldDef("Title", "string"),
        FieldDef("Phone", "phone"),
        FieldDef("LeadSource", "picklist"),
        FieldDef("MailingCountry", "string"),
        _read_only("LastActivityDate", "date"),
        _ref("AccountId", "Account", "Account"),
    ),
)

ACCOUNT = ObjectDef(
    "Account",
    "001",
    (
        *_system(owner=True),
        FieldDef("Name", "string", nillable=False, required=True),
        FieldDef("Industry", "picklist"),
        FieldDef("Type", "picklist"),
    ),
)

OPPORTUNITY = ObjectDef(
    "Opportunity",
    "006",
    (
        *_system(owner=True),
        FieldDef("Name", "string", nillable=False, required=True),
        FieldDef("StageName", "picklist", nillable=False, required=True),
        FieldDef("CloseDate", "date", nillable=False, required=True),
        FieldDef("Amount", "currency"),
        _ref("AccountId", "Account", "Account"),
        _ref("CampaignId", "Campaign", "Campaign"),
    ),
)

OPPORTUNITY_CONTACT_ROLE = ObjectDef(
    "OpportunityContactRole",
    "00K",
    (
        *_system(),
        _ref("ContactId", "Contact", "Contact", nillable=False, required=True),
        _ref("OpportunityId", "Opportunity", "Opportunity", updateable=False, nillable=False, required=True),
        FieldDef("Role", "picklist"),
        FieldDef("IsPrimary", "boolean", nillable=False),
    ),
)

USER = ObjectDef(
    "User",
    "005",
    (
        *_system(),
        FieldDef("Username", "string", nillable=False, required=True),
        FieldDef("Name", "string", createable=False, updateable=False),
        FieldDef("Email", "email", nillable=False, required=True),
        FieldDef("IsActive", "boolean", nillable=False),
    ),
)

OBJECTS: dict[str, ObjectDef] = {
    o.name.lower(): o
    for o in (
        CAMPAIGN,
        CAMPAIGN_MEMBER_STATUS,
        CAMPAIGN_MEMBER,
        LEAD,
        CONTACT,
        ACCOUNT,
        OPPORTUNITY,
        OPPORTUNITY_CONTACT_ROLE,
        USER,
    )
}
BY_PREFIX: dict[str, ObjectDef] = {o.prefix: o for o in OBJECTS.values()}

# Equality indexes the state maintains (and the query planner uses): (object, field).
INDEXED: dict[str, tuple[str, ...]] = {
    "CampaignMember": ("CampaignId", "LeadId", "ContactId"),
    "CampaignMemberStatus": ("CampaignId",),
    "Contact": ("Email", "AccountId"),
    "Lead": ("Email", "ConvertedContactId"),
    "OpportunityContactRole": ("OpportunityId", "ContactId"),
    "Opportunity": ("AccountId",),
}


@dataclass(frozen=True, slots=True)
class ChildRelationship:
    """A parent-to-child relationship: ``name`` (plural, as SOQL subqueries name it) lists the rows of
    ``child`` whose reference ``field`` holds the parent's Id."""

    name: str
    child: str
    field: str

    def describe(self) -> dict[str, Any]:
        return {
            "childSObject": self.child,
            "field": self.field,
            "relationshipName": self.name,
            "cascadeDelete": False,
            "deprecatedAndHidden": False,
            "restrictedDelete": False,
        }


def _children(*relationships: ChildRelationship) -> dict[str, ChildRelationship]:
    return {r.name.lower(): r for r in relationships}


# Parent object (lower case) → relationship name (lower case) → relationship, with Salesforce's names.
CHILD_RELATIONSHIPS: dict[str, dict[str, ChildRelationship]] = {
    "campaign": _children(
        ChildRelationship("CampaignMemberStatuses", "CampaignMemberStatus", "CampaignId"),
        ChildRelationship("CampaignMembers", "CampaignMember", "CampaignId"),
        ChildRelationship("ChildCampaigns", "Campaign", "ParentId"),
        ChildRelationship("Opportunities", "Opportunity", "CampaignId"),
    ),
    "lead": _children(ChildRelationship("CampaignMembers", "CampaignMember", "LeadId")),
    "contact": _children(
        ChildRelationship("CampaignMembers", "CampaignMember", "ContactId"),
        ChildRelationship("OpportunityContactRoles", "OpportunityContactRole", "ContactId"),
    ),
    "account": _children(
        ChildRelationship("Contacts", "Contact", "AccountId"),
        ChildRelationship("Opportunities", "Opportunity", "AccountId"),
    ),
    "opportunity": _children(ChildRelationship("OpportunityContactRoles", "OpportunityContactRole", "OpportunityId")),
}


def child_relationship(parent: ObjectDef, name: str) -> ChildRelationship | None:
    """The parent-to-child relationship of ``parent`` called ``name`` (any case), or None."""
    return CHILD_RELATIONSHIPS.get(parent.name.lower(), {}).get(name.lower())


def object_def(name: str) -> ObjectDef | None:
    """The object called ``name`` (any case), or None."""
    return OBJECTS.get(name.lower())


def object_for_id(record_id: str) -> ObjectDef | None:
    """The object an id belongs to, from its 3-character key prefix."""
    return BY_PREFIX.get(record_id[:3])
