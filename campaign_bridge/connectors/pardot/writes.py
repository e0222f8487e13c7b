"""Writes: static list memberships and the prospect's campaign, one v5 request per change (v5 has no batch
endpoint for either), ``max_concurrent`` at a time.

Static list: an add is ``POST list-memberships`` (code 58, "already a member", is ALREADY_PRESENT); a
removal deletes the membership (its id from a query on list and prospect, or, for many removals, from one
read of the list's memberships), never opts the prospect out.

Campaign (exclusive: every prospect has exactly one): an add reads the prospect's ``campaignId``; already
there is ALREADY_PRESENT, another campaign is OCCUPIED (its id) unless the change may ``replace`` it, when
the prospect is moved with ``PATCH``. A removal moves the prospect to ``removal_campaign``, or, without one,
is REJECTED (``CAMPAIGN_REQUIRED``): the prospect keeps the campaign it has.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from campaign_bridge.connectors.pardot.client import PardotClient
from campaign_bridge.connectors.pardot.errors import (
    ALREADY_A_MEMBER,
    NOT_FOUND,
    PardotNotFoundError,
    PardotRequestError,
)
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Change, ChangeAction, ChangeOutcome, Container, ContainerKind, OutcomeState

#: More removals than this in one batch read the list's memberships once instead of one query each.
MAP_AFTER = 10
#: More changes of one batch failing transiently than this: the system is down; stop the batch.
MAX_TRANSIENT = 10


def run_all(changes: Sequence[Change], one: Callable[[Change], ChangeOutcome], workers: int) -> list[ChangeOutcome]:
    """``one`` for every change, ``workers`` at a time; outcomes in order.

    A change whose call still fails transiently after the policy's retries is FAILED (a later run retries
    it) rather than failing the batch: the calls of a batch are independent, and the others' outcomes
    must be recorded. Past ``MAX_TRANSIENT`` such failures the system is taken to be down: calls not
    started yet are not made and the error is raised, as is anything else (quota, auth, fatal), once every
    started call has ended.
    """
    failures: list[TransientError] = []
    lock = threading.Lock()

    def guarded(change: Change) -> ChangeOutcome:
        try:
            return one(change)
        except TransientError as exc:
            with lock:
                failures.append(exc)
            return ChangeOutcome(change, OutcomeState.FAILED, "TRANSIENT", str(exc))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: list[Future[ChangeOutcome]] = [pool.submit(guarded, ch) for ch in changes]
        for future in futures:
            if future.exception() is not None or len(failures) > MAX_TRANSIENT:
                for rest in futures:
                    rest.cancel()
                break
    for future in futures:
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                raise error
    if len(failures) > MAX_TRANSIENT:
        raise failures[-1]
    return [f.result() for f in futures]


def _rejected(change: Change, exc: PardotRequestError) -> ChangeOutcome:
    return ChangeOutcome(change, OutcomeState.REJECTED, exc.code, exc.pardot_message)


class Writer:
    def __init__(self, client: PardotClient, workers: int, removal_campaign: Callable[[], str | None]) -> None:
        self.client, self.workers, self.removal_campaign = client, workers, removal_campaign

    def apply(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        if container.kind is ContainerKind.EXCLUSIVE_CAMPAIGN:
            return run_all(changes, lambda ch: self._campaign(container, ch), self.workers)
        removals = [ch for ch in changes if ch.action is ChangeAction.REMOVE]
        members = self._membership_map(container) if len(removals) > MAP_AFTER else None
        return run_all(changes, lambda ch: self._list(container, ch, members), self.workers)

    # -- static lists --------------------------------------------------------------------------------
    def _membership_map(self, container: Container) -> dict[str, str]:
        pages = self.client.pages("list-memberships", ["id", "prospectId"], {"listId": container.id, "orderBy": "id"})
        return {str(r["prospectId"]): str(r["id"]) for page in pages for r in page}

    def _membership_id(self, container: Container, prospect_id: str) -> str | None:
        params = {"listId": container.id, "prospectId": prospect_id}
        rows = [r for page in self.client.pages("list-memberships", ["id"], params) for r in page]
        return str(rows[0]["id"]) if rows else None

    def _list(self, container: Container, change: Change, members: dict[str, str] | None) -> ChangeOutcome:
        prospect = change.target.id
        if change.action is ChangeAction.SET_STATUS:
            return ChangeOutcome(
                change, OutcomeState.REJECTED, "NO_STATUS", "Account Engagement lists have no member status"
            )
        if change.action is ChangeAction.ADD:
            body = {"listId": int(container.id), "prospectId": int(prospect)}
            try:
                # Safe to retry: a repeated add that had landed answers 58, already a member.
                self.client.call("POST", "/api/v5/objects/list-memberships", params={"fields": "id"}, json=body)
            except PardotRequestError as exc:
                if exc.code == ALREADY_A_MEMBER:
                    return ChangeOutcome(change, OutcomeState.ALREADY_PRESENT)
                return _rejected(change, exc)
            return ChangeOutcome(change, OutcomeState.APPLIED)
        member = members.get(prospect) if members is not None else self._membership_id(container, prospect)
        if member is None:
            return ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
        try:
            self.client.call("DELETE", f"/api/v5/objects/list-memberships/{member}")
        except PardotRequestError as exc:
            return _rejected(change, exc)
        except PardotNotFoundError:  # deleted meanwhile (a retried DELETE lands here too)
            return ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
        return ChangeOutcome(change, OutcomeState.APPLIED)

    # -- the prospect's campaign ---------------------------------------------------------------------
    def _campaign(self, container: Container, change: Change) -> ChangeOutcome:
        path = f"/api/v5/objects/prospects/{change.target.id}"
        if change.action is ChangeAction.SET_STATUS:
            return ChangeOutcome(change, OutcomeState.REJECTED, "NO_STATUS", "a prospect's campaign has no status")
        try:
            current = self.client.call("GET", path, params={"fields": "id,campaignId"}).body
        except PardotNotFoundError:
            return ChangeOutcome(change, OutcomeState.REJECTED, NOT_FOUND, f"no prospect {change.target.id}")
        holds = str(current.get("campaignId")) if isinstance(current, dict) else None
        if change.action is ChangeAction.ADD:
            if holds == container.id:
                return ChangeOutcome(change, OutcomeState.ALREADY_PRESENT)
            if not change.replace:
                return ChangeOutcome(change, OutcomeState.OCCUPIED, occupant=holds)
            return self._move(change, path, container.id)
        if holds != container.id:
            return ChangeOutcome(change, OutcomeState.ALREADY_ABSENT)
        fallback = self.removal_campaign()
        if fallback is None:
            return ChangeOutcome(
                change,
                OutcomeState.REJECTED,
                "CAMPAIGN_REQUIRED",
                "a prospect always has one campaign: it stays in this one (set the connection's removal_campaign "
                "to move removed prospects there)",
            )
        return self._move(change, path, fallback)

    def _move(self, change: Change, path: str, campaign_id: str) -> ChangeOutcome:
        try:
            self.client.call("PATCH", path, params={"fields": "id,campaignId"}, json={"campaignId": int(campaign_id)})
        except PardotRequestError as exc:
            return _rejected(change, exc)
        return ChangeOutcome(change, OutcomeState.APPLIED)
