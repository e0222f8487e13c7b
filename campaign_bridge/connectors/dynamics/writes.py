"""Writes to a static marketing list, and the campaign responses that carry a member's status.

One ``apply_changes`` call is one ``$batch`` (at most 1,000 requests, answered each on its own):
``AddListMembersList`` with every add, one campaign response per status to write, one ``RemoveMemberList`` per
removal. A write batch is therefore 999 changes: one ``AddListMembersList`` and a response for each of 999
people fill one ``$batch``. ``AddListMembersList`` is all or nothing; when Dynamics refuses it (a record that
no longer exists), the adds go again one ``AddMemberList`` each, so each gets its own outcome.

Statuses: ``Member`` is "in the list, no response"; any other status is a ``campaignresponse`` regarding the
campaign with that response code and the person as its customer (participation type 11). A status is never
lowered: a person with a stronger response keeps it (their response is an activity Dynamics keeps, and a
removal from the list leaves it in place).

What the list already holds (and who responded) is read once per list per connector, in one ``$batch``, and
kept as the connector writes, so a write never re-reads. A change someone makes in Dynamics during the run can
make an outcome say "applied" for an add Dynamics found already done (``AddListMembersList`` adds a member
once).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from campaign_bridge.connectors.dynamics.client import DataverseClient, Op, entity_id, path
from campaign_bridge.connectors.dynamics.reads import (
    KIND_CODES,
    MEMBER,
    PAGE,
    SETS,
    Campaign,
    best_responses,
    responses_op,
)
from campaign_bridge.errors import CampaignBridgeError, FatalError
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, Container, OutcomeState

#: Changes per ``apply_changes``: with one ``AddListMembersList``, a ``$batch`` of 1,000 requests.
WRITE_BATCH = 999
CUSTOMER_PARTY = 11


@dataclass
class ListState:
    """What a list holds and, for a campaign's list, each member's response status, as last read or written."""

    members: set[str]
    status: dict[str, str] = field(default_factory=dict)


class ListWriter:
    """Writes members of static lists (and responses to their campaign) for one connector."""

    def __init__(self, client: DataverseClient) -> None:
        self.client = client
        self._states: dict[str, ListState] = {}
        self._lock = threading.Lock()

    def state(self, list_id: str, campaign: Campaign | None) -> ListState:
        """The list's members (and responses), read once: one ``$batch`` of the first pages."""
        with self._lock:
            known = self._states.get(list_id)
        if known is not None:
            return known
        members_path = path("listmembers", select="_entityid_value", filter=f"_listid_value eq {list_id}")
        ops = [Op("GET", members_path, headers=PAGE)]
        if campaign is not None:
            ops.append(responses_op(campaign.row["campaignid"]))
        answers = self.client.batch(ops)
        for answer in answers:
            if not answer.ok:
                code, message = answer.error()
                raise FatalError(f"{self.client.connection}: reading list {list_id}: {code}: {message}")
        members = {str(r["_entityid_value"]) for page in self.client.pages(members_path, answers[0]) for r in page}
        status = best_responses(self.client, campaign.row["campaignid"], campaign.codes, answers[1]) if campaign else {}
        state = ListState(members, status)
        with self._lock:
            self._states[list_id] = state
        return state

    def create_list(self, list_id: str, name: str, kind: str, campaign: Campaign) -> str:
        """The static list ``list_id`` of ``kind``, linked to ``campaign`` (one POST with the id: sent twice, the
        second is refused as a duplicate key, never a second list)."""
        body = {
            "listid": list_id,
            "listname": name,
            "createdfromcode": KIND_CODES[kind],
            "type": False,
            "campaignlist_association@odata.bind": [f"/campaigns({campaign.row['campaignid']})"],
        }
        answer = self.client.call("POST", "lists", body=body, idempotent=False, first=True)
        created = entity_id(answer.headers.get("OData-EntityId"))
        if created is None:
            raise FatalError(f"{self.client.connection}: Dynamics created list {name!r} but did not say its id")
        with self._lock:
            self._states[created] = ListState(set())
        return created

    def apply(
        self, container: Container, list_id: str, changes: Sequence[Change], campaign: Campaign | None
    ) -> list[ChangeOutcome]:
        """One outcome per change, in order; a record named twice is written in two runs, in order."""
        seen: set[str] = set()
        for i, change in enumerate(changes):
            if change.target.id in seen:
                return self.apply(container, list_id, changes[:i], campaign) + self.apply(
                    container, list_id, changes[i:], campaign
                )
            seen.add(change.target.id)
        state = self.state(list_id, campaign)
        rank = {s.label.casefold(): s.rank for s in container.statuses}
        labels = {s.label.casefold(): s.label for s in container.statuses}
        codes = dict(campaign.codes) if campaign else {}
        outcomes: list[ChangeOutcome | None] = [None] * len(changes)
        adds: list[int] = []
        responses: list[tuple[int, str]] = []  # (change index, status label)
        removes: list[int] = []
        for i, change in enumerate(changes):
            who, label = change.target.id, change.status
            current = state.status.get(who, MEMBER) if campaign else None
            if change.action is ChangeAction.REMOVE:
                if who in state.members:
                    removes.append(i)
                else:
                    outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
                continue
            if label is not None and campaign is None:
                outcomes[i] = _rejected(change, "NO_STATUS", "a marketing list has no member status")
                continue
            if label is not None and label.casefold() not in rank:
                outcomes[i] = _rejected(
                    change, "INVALID_STATUS", f"the campaign has no response code {label!r} (nor is it {MEMBER!r})"
                )
                continue
            if container.member_kind and change.target.kind.lower() != container.member_kind:
                outcomes[i] = _rejected(
                    change,
                    "WRONG_MEMBER_TYPE",
                    f"{container.name!r} holds {container.member_kind} records only; {who} is a {change.target.kind}",
                )
                continue
            raise_to = (
                labels[label.casefold()]
                if label is not None and rank[label.casefold()] > rank.get((current or MEMBER).casefold(), 0)
                else None
            )
            if change.action is ChangeAction.SET_STATUS and who not in state.members:
                outcomes[i] = _rejected(change, "NOT_A_MEMBER", f"{who} is not a member of {container.name!r}")
                continue
            if who in state.members and raise_to is None:
                outcomes[i] = ChangeOutcome(change, OutcomeState.ALREADY_PRESENT, current_status=current)
                continue
            if who not in state.members:
                adds.append(i)
            if raise_to is not None:
                responses.append((i, raise_to))
        try:
            self._send(container, list_id, changes, state, campaign, codes, adds, responses, removes, outcomes)
        except CampaignBridgeError:
            # What a failed call did is unknown (a write may have landed before its answer was lost): the next
            # write to this list reads what Dynamics holds again instead of trusting what was kept.
            with self._lock:
                self._states.pop(list_id, None)
            raise
        return [
            o if o is not None else ChangeOutcome(c, OutcomeState.APPLIED)
            for o, c in zip(outcomes, changes, strict=True)
        ]

    def _send(
        self,
        container: Container,
        list_id: str,
        changes: Sequence[Change],
        state: ListState,
        campaign: Campaign | None,
        codes: dict[str, int],
        adds: list[int],
        responses: list[tuple[int, str]],
        removes: list[int],
        outcomes: list[ChangeOutcome | None],
    ) -> None:
        ops: list[Op] = []
        if adds:
            members = [
                {
                    "@odata.type": f"Microsoft.Dynamics.CRM.{changes[i].target.kind.lower()}",
                    f"{changes[i].target.kind.lower()}id": changes[i].target.id,
                }
                for i in adds
            ]
            body = {"List": {"@odata.type": "Microsoft.Dynamics.CRM.list", "listid": list_id}, "Members": members}
            ops.append(Op("POST", "AddListMembersList", body))
        for i, label in responses:
            assert campaign is not None
            ops.append(Op("POST", "campaignresponses", _response(campaign, changes[i], label, codes[label])))
        ops += [
            Op("POST", f"lists({list_id})/Microsoft.Dynamics.CRM.RemoveMemberList", {"EntityId": changes[i].target.id})
            for i in removes
        ]
        if not ops:
            return
        answers = self.client.batch(ops, first=True)
        at = 1 if adds else 0
        refused: dict[int, tuple[str, str, str]] = {}
        for (i, label), answer in zip(responses, answers[at : at + len(responses)], strict=True):
            if answer.ok:  # kept before anything else can fail: a response is never written twice
                state.status[changes[i].target.id] = label
            else:
                refused[i] = (label, *answer.error())
        for i, answer in zip(removes, answers[at + len(responses) :], strict=True):
            if answer.ok:
                state.members.discard(changes[i].target.id)
            else:
                code, message = answer.error()
                outcomes[i] = _rejected(changes[i], code, message)
        if adds:
            # all or nothing: when refused, each add again on its own, for its own outcome
            added = set(adds) if answers[0].ok else self._one_by_one(list_id, changes, adds, outcomes)
            for i in added:
                state.members.add(changes[i].target.id)
        for i, (label, code, message) in refused.items():
            if outcomes[i] is None:  # else its add was refused, which says why
                member = changes[i].target.id in state.members
                outcomes[i] = ChangeOutcome(
                    changes[i],
                    OutcomeState.FAILED if member else OutcomeState.REJECTED,
                    code,
                    f"Dynamics refused the campaign response {label!r}: {message}",
                )

    def _one_by_one(
        self, list_id: str, changes: Sequence[Change], adds: list[int], outcomes: list[ChangeOutcome | None]
    ) -> set[int]:
        action = f"lists({list_id})/Microsoft.Dynamics.CRM.AddMemberList"
        answers = self.client.batch([Op("POST", action, {"EntityId": changes[i].target.id}) for i in adds], first=True)
        done: set[int] = set()
        for i, answer in zip(adds, answers, strict=True):
            if answer.ok:
                done.add(i)
            else:
                code, message = answer.error()
                outcomes[i] = _rejected(changes[i], code, message)
        return done


def _response(campaign: Campaign, change: Change, label: str, code: int) -> dict[str, Any]:
    kind = change.target.kind.lower()
    return {
        "subject": f"{label}: {campaign.row.get('name')} (campaign-bridge)",
        "responsecode": code,
        "regardingobjectid_campaign@odata.bind": f"/campaigns({campaign.row['campaignid']})",
        "campaignresponse_activity_parties": [
            {
                f"partyid_{kind}@odata.bind": f"/{SETS[kind]}({change.target.id})",
                "participationtypemask": CUSTOMER_PARTY,
            }
        ],
    }


def _rejected(change: Change, code: str, message: str) -> ChangeOutcome:
    return ChangeOutcome(change, OutcomeState.REJECTED, code, message)


__all__ = ["WRITE_BATCH", "ListWriter"]
