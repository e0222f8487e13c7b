"""Validated create, update, delete and lead conversion: the rules a Salesforce org enforces on DML.

Each function changes one record (plus what the platform changes with it: a campaign's default member
statuses, cascaded deletes, rollups) or raises ``RecordError`` having changed nothing. REST, Collections,
Bulk ingest and the seeding helpers all come through here, so they agree. Callers hold ``store.lock``.
"""

from __future__ import annotations

from typing import Any

from .errors import RecordError
from .ids import to_18
from .schema import FieldDef, ObjectDef, object_def
from .store import Record, Store
from .values import coerce, looks_like_email

DEFAULT_MEMBER_STATUSES: tuple[tuple[str, bool], ...] = (("Sent", False), ("Responded", True))
DEFAULT_LEAD_STATUS = "Open - Not Contacted"
CONVERTED_LEAD_STATUS = "Closed - Converted"

# Deleting a parent deletes these children, as the platform's cascade does.
_CASCADE: dict[str, tuple[tuple[str, str], ...]] = {
    "Campaign": (("CampaignMember", "CampaignId"), ("CampaignMemberStatus", "CampaignId")),
    "Lead": (("CampaignMember", "LeadId"),),
    "Contact": (("CampaignMember", "ContactId"), ("OpportunityContactRole", "ContactId")),
    "Opportunity": (("OpportunityContactRole", "OpportunityId"),),
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId")),
}


def unknown_field(obj: ObjectDef, name: str) -> RecordError:
    return RecordError("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name])


def parse_values(obj: ObjectDef, raw: dict[str, Any], *, from_csv: bool = False) -> dict[FieldDef, Any]:
    """Map a request's field names (any case) to fields and coerce the values; ``attributes`` is ignored.

    Raises RecordError INVALID_FIELD for a name the object does not have, or a type error.
    """
    out: dict[FieldDef, Any] = {}
    for name, value in raw.items():
        if name == "attributes":
            continue
        field = obj.field(name)
        if field is None:
            raise unknown_field(obj, name)
        if from_csv and value == "":
            continue  # an empty cell leaves the field alone
        out[field] = coerce(field, value, from_csv=from_csv)
    return out


def create(
    store: Store,
    obj: ObjectDef,
    raw: dict[str, Any],
    *,
    from_csv: bool = False,
    member_statuses: list[tuple[str, bool]] | None = None,
) -> Record:
    """Insert one record after the platform's checks; a new Campaign gets its member statuses.

    ``member_statuses`` (label, responded) pairs, first is the default; None means Sent and Responded.
    """
    values = parse_values(obj, raw, from_csv=from_csv)
    if any(f.name == "Id" for f in values):
        raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
    _check_writable(values, creating=True)
    stored = {f.name: v for f, v in values.items()}
    if obj.field("OwnerId") is not None and stored.get("OwnerId") is None:
        stored["OwnerId"] = store.default_owner
    _prepare_create(store, obj, stored)
    _check_required(obj, stored)
    _check_references(store, obj, stored)
    _check_emails(obj, stored)
    rec = store.insert(obj, stored)
    if obj.name == "Campaign":
        for order, (label, responded) in enumerate(member_statuses or DEFAULT_MEMBER_STATUSES, start=1):
            store.insert(
                _obj("CampaignMemberStatus"),
                {
                    "CampaignId": rec["Id"],
                    "Label": label,
                    "HasResponded": responded,
                    "IsDefault": order == 1,
                    "SortOrder": order,
                },
            )
    return rec


def update(
    store: Store, obj: ObjectDef | None, record_id: Any, raw: dict[str, Any], *, from_csv: bool = False
) -> Record:
    """Change fields of a live record (``obj`` None: infer it from the id)."""
    obj, rec = _live_record(store, obj, record_id)
    values = parse_values(obj, {k: v for k, v in raw.items() if k.lower() != "id"}, from_csv=from_csv)
    _check_writable(values, creating=False)
    changes = {f.name: v for f, v in values.items()}
    for name, value in changes.items():
        field = obj.field(name)
        if value is None and field is not None and (field.required or not field.nillable):
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])
    _prepare_update(store, obj, rec, changes)
    _check_references(store, obj, changes)
    _check_emails(obj, changes)
    store.modify(obj, rec, changes)
    return rec


def delete(store: Store, record_id: Any, *, obj: ObjectDef | None = None, hard: bool = False) -> None:
    """Move a record (and its cascade) to the recycle bin, or remove it for good with ``hard``."""
    obj, rec = _live_record(store, obj, record_id, deleting=True)
    if obj.name == "CampaignMemberStatus":
        info = store.statuses(rec["CampaignId"])
        if info.default == rec["Label"]:
            raise RecordError("DELETE_FAILED", "You can't delete the default member status.")
        members = store.tables["CampaignMember"]
        in_use = any(
            not members[i]["IsDeleted"] and members[i].get("Status") == rec["Label"]
            for i in store.lookup("CampaignMember", "CampaignId", rec["CampaignId"])
        )
        if in_use:
            raise RecordError("DELETE_FAILED", "You can't delete a member status that is in use.")
    _remove(store, obj, rec, hard=hard)


def convert_lead(store: Store, lead_id: str, contact_id: str | None = None) -> str:
    """Convert a lead: into ``contact_id`` when given, else into a new Contact (and Account from Company).

    The lead gets IsConverted, ConvertedContactId, ConvertedAccountId, ConvertedDate and the converted
    status; its campaign memberships now also name the contact, unless the contact is already a member.
    """
    lead_obj, lead = _live_record(store, _obj("Lead"), lead_id)
    if lead.get("IsConverted"):
        raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
    if contact_id is None:
        account = create(store, _obj("Account"), {"Name": lead.get("Company") or lead["LastName"]})
        contact = create(
            store,
            _obj("Contact"),
            {
                "FirstName": lead.get("FirstName"),
                "LastName": lead["LastName"],
                "Email": lead.get("Email"),
                "LeadSource": lead.get("LeadSource"),
                "AccountId": account["Id"],
            },
        )
    else:
        _, contact = _live_record(store, _obj("Contact"), contact_id)
    store.modify(
        lead_obj,
        lead,
        {
            "IsConverted": True,
            "ConvertedContactId": contact["Id"],
            "ConvertedAccountId": contact.get("AccountId"),
            "ConvertedDate": store.now().date(),
            "Status": CONVERTED_LEAD_STATUS,
        },
    )
    member_obj = _obj("CampaignMember")
    members = store.tables["CampaignMember"]
    for member_id in list(store.lookup("CampaignMember", "LeadId", lead["Id"])):
        member = members[member_id]
        if member["IsDeleted"] or member.get("ContactId"):
            continue
        if find_member(store, member["CampaignId"], contact["Id"]) is None:
            store.modify(member_obj, member, {"ContactId": contact["Id"]})
        campaign = store.tables["Campaign"].get(member["CampaignId"])
        if campaign is not None:
            campaign["NumberOfConvertedLeads"] = campaign.get("NumberOfConvertedLeads", 0) + 1
    return str(contact["Id"])


def find_member(store: Store, campaign_id: str, person_id: str) -> Record | None:
    """The live CampaignMember joining this campaign and lead or contact, or None."""
    field = "LeadId" if person_id.startswith("00Q") else "ContactId"
    members = store.tables["CampaignMember"]
    for member_id in store.lookup("CampaignMember", field, person_id):
        member = members[member_id]
        if member["CampaignId"] == campaign_id and not member["IsDeleted"]:
            return member
    return None


# ---- checks ----------------------------------------------------------------------------------------


def _obj(name: str) -> ObjectDef:
    found = object_def(name)
    assert found is not None
    return found


def _live_record(
    store: Store, obj: ObjectDef | None, record_id: Any, *, deleting: bool = False
) -> tuple[ObjectDef, Record]:
    if not isinstance(record_id, str) or not record_id:
        raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
    normal = to_18(record_id)
    if normal is None:
        raise RecordError("MALFORMED_ID", f"malformed id {record_id}", ["Id"])
    found = store.record(normal)
    if found is None or (obj is not None and found[0].name != obj.name):
        raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    if found[1]["IsDeleted"]:
        raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
    if found[0].name == "Lead" and found[1].get("IsConverted") and not deleting:
        raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
    return found


def _check_writable(values: dict[FieldDef, Any], *, creating: bool) -> None:
    refused = [f.name for f in values if not (f.createable if creating else f.updateable)]
    if refused:
        names = ", ".join(refused)
        raise RecordError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {names}. Please check the security settings of this field and "
            "verify that it is read/write for your profile or permission set.",
            refused,
        )


def _check_required(obj: ObjectDef, stored: Record) -> None:
    missing = [name for name in obj.required if stored.get(name) in (None, "")]
    if missing:
        raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)


def _check_references(store: Store, obj: ObjectDef, stored: Record) -> None:
    for name, value in stored.items():
        field = obj.field(name)
        if field is None or field.reference_to is None or value is None:
            continue
        target = store.record(value)
        if target is None or target[0].name != field.reference_to:
            if target is None and value[:3] == _obj(field.reference_to).prefix:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
            raise RecordError("FIELD_INTEGRITY_EXCEPTION", f"{name}: id value of incorrect type: {value}", [name])
        if target[1]["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [name])


def _check_emails(obj: ObjectDef, stored: Record) -> None:
    for name, value in stored.items():
        field = obj.field(name)
        if field is not None and field.type == "email" and value and not looks_like_email(value):
            raise RecordError("INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name])


def _prepare_create(store: Store, obj: ObjectDef, stored: Record) -> None:
    if obj.name == "Campaign":
        stored.setdefault("IsActive", False)
        for rollup in ("NumberOfLeads", "NumberOfContacts", "NumberOfResponses", "NumberOfConvertedLeads"):
            stored[rollup] = 0
    elif obj.name == "Lead":
        if stored.get("Status") is None:
            stored["Status"] = DEFAULT_LEAD_STATUS
        stored.setdefault("IsConverted", False)
    elif obj.name == "CampaignMember":
        _prepare_member(store, stored)
    elif obj.name == "CampaignMemberStatus":
        _prepare_member_status(store, stored)
    elif obj.name == "OpportunityContactRole":
        stored.setdefault("IsPrimary", False)


def _prepare_member(store: Store, stored: Record) -> None:
    campaign_id, lead_id, contact_id = stored.get("CampaignId"), stored.get("LeadId"), stored.get("ContactId")
    if lead_id and contact_id:
        raise RecordError(
            "FIELD_INTEGRITY_EXCEPTION", "A campaign member is either a lead or a contact, not both.", ["LeadId"]
        )
    if not (lead_id or contact_id):
        raise RecordError("REQUIRED_FIELD_MISSING", "Required fields are missing: [LeadId or ContactId]", ["ContactId"])
    if not campaign_id:
        raise RecordError("REQUIRED_FIELD_MISSING", "Required fields are missing: [CampaignId]", ["CampaignId"])
    _check_references(store, _obj("CampaignMember"), stored)
    if lead_id and store.tables["Lead"][lead_id].get("IsConverted"):
        raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", ["LeadId"])
    info = store.statuses(campaign_id)
    status = stored.get("Status")
    if status is None:
        stored["Status"] = status = info.default
    elif status not in info.responded:
        raise _bad_status(status)
    if find_member(store, campaign_id, str(lead_id or contact_id)) is not None:
        raise RecordError("DUPLICATE_VALUE", "Already a campaign member.")
    if store.is_responded(campaign_id, status):
        stored["FirstRespondedDate"] = store.now().date()


def _prepare_member_status(store: Store, stored: Record) -> None:
    campaign_id = stored.get("CampaignId")
    label = stored.get("Label")
    if not campaign_id or store.live("Campaign", campaign_id) is None:
        raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["CampaignId"])
    rows = store.tables["CampaignMemberStatus"]
    siblings = [rows[i] for i in store.lookup("CampaignMemberStatus", "CampaignId", campaign_id)]
    siblings = [s for s in siblings if not s["IsDeleted"]]
    for sibling in siblings:
        if sibling["Label"] == label:
            raise RecordError(
                "DUPLICATE_VALUE", f"duplicate value found: Label duplicates value on record with id: {sibling['Id']}"
            )
    stored.setdefault("HasResponded", False)
    if stored.get("SortOrder") is None:
        stored["SortOrder"] = max((s.get("SortOrder") or 0 for s in siblings), default=0) + 1
    if stored.get("IsDefault"):
        for sibling in siblings:
            if sibling.get("IsDefault"):
                store.modify(_obj("CampaignMemberStatus"), sibling, {"IsDefault": False})
    else:
        stored["IsDefault"] = False


def _prepare_update(store: Store, obj: ObjectDef, rec: Record, changes: Record) -> None:
    if obj.name == "CampaignMember" and "Status" in changes:
        status = changes["Status"]
        if status is None or status not in store.statuses(rec["CampaignId"]).responded:
            raise _bad_status(status)
        if rec.get("FirstRespondedDate") is None and store.is_responded(rec["CampaignId"], status):
            changes["FirstRespondedDate"] = store.now().date()
    elif obj.name == "CampaignMemberStatus" and changes.get("IsDefault"):
        rows = store.tables["CampaignMemberStatus"]
        for sibling_id in store.lookup("CampaignMemberStatus", "CampaignId", rec["CampaignId"]):
            sibling = rows[sibling_id]
            if sibling is not rec and sibling.get("IsDefault") and not sibling["IsDeleted"]:
                store.modify(obj, sibling, {"IsDefault": False})


def _bad_status(status: Any) -> RecordError:
    return RecordError(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"Status: bad value for restricted picklist field: {status}",
        ["Status"],
    )


def _remove(store: Store, obj: ObjectDef, rec: Record, *, hard: bool) -> None:
    for child_name, field in _CASCADE.get(obj.name, ()):
        child_obj = _obj(child_name)
        table = store.tables[child_name]
        for child_id in list(store.lookup(child_name, field, rec["Id"])):
            child = table.get(child_id)
            if child is not None and not child["IsDeleted"]:
                _remove(store, child_obj, child, hard=hard)
    if hard:
        store.discard(obj, rec)
    else:
        store.modify(obj, rec, {"IsDeleted": True})
