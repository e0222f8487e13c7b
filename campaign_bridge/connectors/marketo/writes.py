"""Writing membership: static list adds and removals, program statuses and removals.

Static lists: Add to List answers ``added`` whether or not the lead was already there, so it cannot tell a
member this rule added from one a person added. A run therefore reads the list's first page of members
(fields ``id``) once, when it plans its first add (``MarketoConnector.prepare_writes``, so the first write
does not wait for it) or else by its first write: when that is the whole list (no ``nextPageToken``), membership is
known from then on for the price of one call and kept up to date by our own writes; a bigger list is asked
with Member of List (``ismember.json``) for each batch of adds instead. Removals answer ``removed`` or
``skipped`` 1015 (not in the list) per lead.

Many adds to a static list (``apply_bulk``) go as one bulk lead import (``lookupField=id`` with the list's
``listId``: every imported lead joins the list): an upload, a status poll or two, and the failed rows when
some failed. Membership is then learnt for the whole list first (one bulk export when it is more than a
page), so that a member someone else added is still told apart.

Programs: Sync Program Member Status answers ``created`` (a new member: ours), ``updated`` (a member
whose status rose: not ours, already there) or ``skipped`` with 1037 (already at or past that step), in
which case the member's real status is read back (``members.json?filterType=leadId``) so the engine
records it and never tries to lower it. Delete Program Members removes (``skipped`` 1037: not a member).
Their answers are matched to the input by ``seq``: a skipped record names no ``leadId``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from campaign_bridge.connectors.marketo.client import MarketoClient
from campaign_bridge.connectors.marketo.extract import MAX_POLLS, POLL_CAP, POLL_FIRST
from campaign_bridge.connectors.marketo.members import export
from campaign_bridge.errors import QuotaExhaustedError, TransientError
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, Container, OutcomeState

BATCH = 300
NOT_FOUND = "1004"
NOT_IN_LIST = "1015"
PAST_STATUS = "1037"


def _reason(result: dict[str, Any]) -> tuple[str, str]:
    reason = (result.get("reasons") or [{}])[0]
    return str(reason.get("code") or ""), str(reason.get("message") or "skipped")


class ListWriter:
    """Adds and removals on one static list, remembering its members when one page held them all."""

    def __init__(self, client: MarketoClient, container: Container) -> None:
        self.client, self.container = client, container
        self.known: set[str] | None = None
        self.checked = False

    def learn(self) -> None:
        """Read the list's first page once (a failed read is asked again by the next write)."""
        if self.checked:
            return
        body = self.client.call(
            "GET", f"/rest/v1/lists/{self.container.id}/leads.json", params={"batchSize": BATCH, "fields": "id"}
        )
        if not body.get("nextPageToken"):
            self.known = {str(r["id"]) for r in body.get("result") or []}
        self.checked = True

    def members_of(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` (≤300) are members now."""
        self.learn()
        if self.known is not None:
            return {i for i in ids if i in self.known}
        body = self.client.call(
            "POST",
            f"/rest/v1/lists/{self.container.id}/leads/ismember.json",
            params={"_method": "GET"},
            json={"input": [{"id": int(i)} for i in ids]},
        )
        return {str(r["id"]) for r in body.get("result") or [] if r.get("status") == "memberof"}

    def add(self, changes: Sequence[Change]) -> list[ChangeOutcome]:
        ids = [c.target.id for c in changes]
        present = self.members_of(ids)
        send = [i for i in ids if i not in present]
        results: dict[str, dict[str, Any]] = {}
        if send:
            body = self.client.call(
                "POST",
                f"/rest/v1/lists/{self.container.id}/leads.json",
                json={"input": [{"id": int(i)} for i in send]},
                first=True,
            )
            results = {str(r.get("id")): r for r in body.get("result") or []}
        out = []
        for change in changes:
            rid = change.target.id
            if rid in present:
                out.append(ChangeOutcome(change, OutcomeState.ALREADY_PRESENT))
                continue
            result = results.get(rid, {})
            if result.get("status") == "added":
                if self.known is not None:
                    self.known.add(rid)
                out.append(ChangeOutcome(change, OutcomeState.APPLIED))
            else:
                code, message = _reason(result)
                out.append(ChangeOutcome(change, OutcomeState.REJECTED, code or "SKIPPED", message))
        return out

    def learn_all(self) -> None:
        """Know every member, by one bulk export when the list is more than a page (a large write's check)."""
        self.learn()
        if self.known is not None:
            return
        try:
            rows = list(export(self.client, self.client.connection, {"staticListId": int(self.container.id)}))
        except QuotaExhaustedError as exc:
            if "export" not in str(exc).lower():
                raise
            return  # the export allowance is spent: ask ismember batch by batch instead
        self.known = {str(r["id"]) for r in rows}

    def bulk_add(self, changes: Sequence[Change]) -> list[ChangeOutcome]:
        """Add many leads with one bulk import (``lookupField=id``, ``listId``): a CSV of the leads that are
        not members yet, then status polls, then the failed rows when some failed."""
        self.learn_all()
        present: set[str] = set()
        ids = [c.target.id for c in changes]
        for i in range(0, len(ids), BATCH):
            present |= self.members_of(ids[i : i + BATCH])
        send = list(dict.fromkeys(i for i in ids if i not in present))
        failed = import_to_list(self.client, self.container.id, send) if send else {}
        out = []
        for change in changes:
            rid = change.target.id
            if rid in present:
                out.append(ChangeOutcome(change, OutcomeState.ALREADY_PRESENT))
            elif rid in failed:
                out.append(ChangeOutcome(change, OutcomeState.REJECTED, "IMPORT_FAILED", failed[rid]))
            else:
                if self.known is not None:
                    self.known.add(rid)
                out.append(ChangeOutcome(change, OutcomeState.APPLIED))
        return out

    def remove(self, changes: Sequence[Change]) -> list[ChangeOutcome]:
        body = self.client.call(
            "DELETE",
            f"/rest/v1/lists/{self.container.id}/leads.json",
            json={"input": [{"id": int(c.target.id)} for c in changes]},
            first=True,
        )
        results = {str(r.get("id")): r for r in body.get("result") or []}
        out = []
        for change in changes:
            result = results.get(change.target.id, {})
            if self.known is not None:
                self.known.discard(change.target.id)
            if result.get("status") == "removed":
                out.append(ChangeOutcome(change, OutcomeState.APPLIED))
            elif _reason(result)[0] in (NOT_IN_LIST, NOT_FOUND):
                out.append(ChangeOutcome(change, OutcomeState.ALREADY_ABSENT))
            else:
                code, message = _reason(result)
                out.append(ChangeOutcome(change, OutcomeState.REJECTED, code or "SKIPPED", message))
        return out


def import_to_list(client: MarketoClient, list_id: str, lead_ids: Sequence[str]) -> dict[str, str]:
    """Bulk-import ``lead_ids`` into the static list; the ids that failed, with Marketo's reason."""
    body = client.call(
        "POST",
        "/bulk/v1/leads.json",
        data={"format": "csv", "lookupField": "id", "listId": list_id},
        files={"file": ("leads.csv", "id\n" + "\n".join(lead_ids) + "\n", "text/csv")},
        first=True,
    )
    batch = (body.get("result") or [{}])[0].get("batchId")
    if batch is None:
        raise TransientError(f"{client.connection}: Marketo's import answered no batchId")
    wait = POLL_FIRST
    for _ in range(MAX_POLLS):
        status = (client.call("GET", f"/bulk/v1/leads/batch/{batch}.json").get("result") or [{}])[0]
        if status.get("status") == "Complete":
            break
        if status.get("status") == "Failed":
            raise TransientError(f"{client.connection}: Marketo's import {batch} failed: {status.get('message')}")
        client.sleep(wait)
        wait = min(POLL_CAP, wait * 2)
    else:
        raise TransientError(f"{client.connection}: Marketo's import {batch} did not finish; the next run resends")
    if not int(status.get("numOfRowsFailed") or 0):
        return {}
    text = client.text(f"/bulk/v1/leads/batch/{batch}/failures.json")
    return {row["id"]: row.get("Import Failure Reason") or "failed" for row in csv.DictReader(io.StringIO(text))}


def set_status(
    client: MarketoClient, container: Container, status: str, changes: Sequence[Change]
) -> list[ChangeOutcome]:
    """Put ``changes``' leads (≤300) at ``status`` in the program; one outcome per change."""
    body = client.call(
        "POST",
        f"/rest/v1/programs/{container.id}/members/status.json",
        json={"statusName": status, "input": [{"leadId": int(c.target.id)} for c in changes]},
        first=True,
    )
    answers = by_seq(body.get("result") or [])
    past = [c.target.id for k, c in enumerate(changes) if _reason(answers.get(k, {}))[0] == PAST_STATUS]
    current = member_statuses(client, container, past) if past else {}
    out = []
    for k, change in enumerate(changes):
        result = answers.get(k, {})
        answer = result.get("status")
        if answer == "created" or (answer == "updated" and change.action is ChangeAction.SET_STATUS):
            out.append(ChangeOutcome(change, OutcomeState.APPLIED))
        elif answer == "updated":
            out.append(ChangeOutcome(change, OutcomeState.ALREADY_PRESENT, current_status=status))
        elif change.target.id in current:
            out.append(ChangeOutcome(change, OutcomeState.ALREADY_PRESENT, current_status=current[change.target.id]))
        else:
            code, message = _reason(result)
            out.append(ChangeOutcome(change, OutcomeState.REJECTED, code or "SKIPPED", message))
    return out


def member_statuses(client: MarketoClient, container: Container, lead_ids: Sequence[str]) -> dict[str, str]:
    """The program status of each of ``lead_ids`` (≤300) that is a member."""
    body = client.call(
        "GET",
        f"/rest/v1/programs/{container.id}/members.json",
        params={
            "filterType": "leadId",
            "filterValues": ",".join(lead_ids),
            "fields": "leadId,statusName",
            "batchSize": BATCH,
        },
    )
    return {str(r["leadId"]): str(r["statusName"]) for r in body.get("result") or [] if r.get("statusName")}


def delete_members(client: MarketoClient, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
    body = client.call(
        "POST",
        f"/rest/v1/programs/{container.id}/members/delete.json",
        json={"input": [{"leadId": int(c.target.id)} for c in changes]},
        first=True,
    )
    answers = by_seq(body.get("result") or [])
    return [
        ChangeOutcome(
            c, OutcomeState.APPLIED if answers.get(k, {}).get("status") == "deleted" else OutcomeState.ALREADY_ABSENT
        )
        for k, c in enumerate(changes)
    ]


def by_seq(results: list[Any]) -> dict[int, dict[str, Any]]:
    """Program member results by ``seq``, the index of the input record they answer: a skipped record
    carries no ``leadId`` (AdobeDocs program-members.md), so ``seq`` is the only key; position when absent."""
    out: dict[int, dict[str, Any]] = {}
    for i, r in enumerate(results):
        if isinstance(r, dict):
            seq = r.get("seq")
            out[int(seq) if isinstance(seq, int | str) and str(seq).isdigit() else i] = r
    return out
