"""The two systems of a soak scenario, as a person and the vendor see them (never as the tool does).

``Systems`` is what the soak needs of a pair of systems: seed people, edit the source, edit the target
by hand, and read the target's ground truth record by record. Two pairs implement it:

* ``MemoryPair``: the memory CRM and MA, each persisted to a JSON file that the sync processes load
  and save (``connectors/memory``): fast, used by most scenarios;
* ``SandboxPair``: the Salesforce and HubSpot emulators over real HTTP (``bench.Bench``), driven by the
  real client libraries in the sync processes.

Every edit happens between runs, while no sync process is alive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from campaign_bridge.connectors.memory.data import MemoryData
from campaign_bridge.mapping.model import ContainerKind, normalise_email
from tests.reliability.bench import Bench

#: Target statuses where the target has them, lowest rank first; a rule writes ``RULE_STATUS``.
STATUSES = ("Sent", "Responded", "Attended")
RULE_STATUS = "Responded"
#: Large enough that a scenario's removals are never held by the safety limit (not what is tested here).
SAFETY = "safety: {max_removals: 1000000, max_removal_fraction: 1.0}"


@dataclass(frozen=True, slots=True)
class Member:
    """One membership row in the target: the record it names and its status (None where none)."""

    record: str
    status: str | None


class Systems(Protocol):
    """A source and a target system of one scenario. ``crm_target``: the target is the CRM (it has
    member statuses, and people missing there are created only as the rule's ``create_missing`` says)."""

    crm_target: bool

    def seed(self, source: list[str | None], target: list[str]) -> tuple[list[str], list[str]]:
        """Create source people (one per email, None: no email) and target people; their record ids."""
        ...

    def source_set(self, changes: dict[str, str | None]) -> None:
        """Source memberships: ``{source record: status}`` joins (or moves status), ``None`` leaves."""
        ...

    def hand_add(self, records: dict[str, str | None]) -> None:
        """A person adds ``{record: status}`` to the target container."""
        ...

    def hand_remove(self, record: str) -> None: ...

    def members(self) -> list[Member]:
        """Every live membership row of the target container, duplicates included."""
        ...

    def records_by_email(self) -> dict[str, list[str]]:
        """The target's live person records by normalised email."""
        ...

    def client_file(self, rule: str, state_url: str) -> str: ...

    def environ(self) -> dict[str, str]: ...


def rule_yaml(*, crm_target: bool, mode: str, status_filter: bool, create_missing: str, source: str) -> str:
    """The scenario's one rule (named ``soak``)."""
    if crm_target:
        to = f"{{connection: crm, campaign: Target, status: {RULE_STATUS}}}"
        match = f"\n    match: {{create_missing: {create_missing}}}"
        frm = f"{{connection: ma, list: {source}}}"
    else:
        to = "{connection: ma, list: Target}"
        match = ""
        flt = ", member_status: [Responded, Attended]" if status_filter else ""
        frm = f"{{connection: crm, campaign: {source}{flt}}}"
    return f"  - name: soak\n    from: {frm}\n    to: {to}{match}\n    mode: {mode}\n    {SAFETY}\n"


# -- memory --------------------------------------------------------------------------------------------
class MemoryPair:
    """The memory CRM and MA in two JSON files under ``folder``."""

    def __init__(self, folder: Path, *, crm_target: bool, reject: dict[str, str]) -> None:
        self.folder, self.crm_target = folder, crm_target
        self.paths = {"crm": folder / "crm.json", "ma": folder / "ma.json"}
        self.src_side, self.tgt_side = ("ma", "crm") if crm_target else ("crm", "ma")
        with self._edit("crm") as crm, self._edit("ma") as ma:
            statuses = [(s, s != "Sent") for s in STATUSES]
            crm_c = crm.add_container("Target" if crm_target else "Source", ContainerKind.CAMPAIGN, statuses)
            ma_c = ma.add_container("Source" if crm_target else "Target", ContainerKind.STATIC_LIST)
            self.container = {"crm": crm_c, "ma": ma_c}
            target = crm if crm_target else ma
            # Values the target refuses (a validation rule): the scenario knows them, the tool learns them.
            target.containers[self.container[self.tgt_side]].reject = {
                e: ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "refused by a validation rule") for e in reject
            }

    @contextmanager
    def _edit(self, side: str) -> Iterator[MemoryData]:
        """The system as saved, edited in memory and saved once (a save per edit is slow at scale)."""
        data = MemoryData(self.paths[side])
        data.path = None
        yield data
        data.path = self.paths[side]
        data.save()

    def _read(self, side: str) -> MemoryData:
        return MemoryData(self.paths[side])

    def seed(self, source: list[str | None], target: list[str]) -> tuple[list[str], list[str]]:
        with self._edit(self.src_side) as src, self._edit(self.tgt_side) as tgt:
            kind = "contact" if self.src_side == "ma" else "Contact"
            s_ids = [src.add_person(e, kind) for e in source]
            t_ids = [tgt.add_person(e, "Contact" if self.crm_target else "contact") for e in target]
        return s_ids, t_ids

    def source_set(self, changes: dict[str, str | None]) -> None:
        with self._edit(self.src_side) as data:
            c = data.containers[self.container[self.src_side]]
            for record, status in changes.items():
                if status is None:
                    data.remove_member(c.id, record)
                else:
                    member = c.members.get(record)
                    if member is not None and not member.removed:
                        member.status, member.modified_at = status, data.clock()
                    else:
                        data.add_member(c.id, record, status if c.statuses else None)

    def hand_add(self, records: dict[str, str | None]) -> None:
        with self._edit(self.tgt_side) as data:
            for record, status in records.items():
                data.add_member(self.container[self.tgt_side], record, status)

    def hand_remove(self, record: str) -> None:
        with self._edit(self.tgt_side) as data:
            data.remove_member(self.container[self.tgt_side], record)

    def members(self) -> list[Member]:
        # The memory systems keep one row per person by construction; the JSON is read as saved, so a
        # row the file held twice would still show up twice here.
        raw = json.loads(self.paths[self.tgt_side].read_text())
        c = next(c for c in raw["containers"] if c["id"] == self.container[self.tgt_side])
        return [Member(pid, v[0]) for pid, v in c["members"].items() if not v[2]]

    def records_by_email(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in self._read(self.tgt_side).people.values():
            email = normalise_email(p.email)
            if email and not p.deleted:
                out.setdefault(email, []).append(p.id)
        return out

    def client_file(self, rule: str, state_url: str) -> str:
        return (
            f"client: soak\nstate: {json.dumps(state_url)}\nconnections:\n"
            f"  crm: {{type: memory-crm, store: crm, path: {json.dumps(str(self.paths['crm']))}}}\n"
            f"  ma: {{type: memory-ma, store: ma, path: {json.dumps(str(self.paths['ma']))}}}\n"
            f"rules:\n{rule}"
        )

    def environ(self) -> dict[str, str]:
        return {}


# -- the sandboxes over HTTP ----------------------------------------------------------------------------
class SandboxPair:
    """Salesforce (the CRM, ``crm``) and HubSpot (the MA, ``ma``) on a reset ``Bench``."""

    def __init__(self, bench: Bench, *, crm_target: bool, bulk_threshold: int | None) -> None:
        self.bench, self.crm_target, self.bulk_threshold = bench, crm_target, bulk_threshold
        bench.reset()
        sf, hs = bench.sf.state, bench.hs.state
        statuses = [(s, s != "Sent") for s in STATUSES]
        self.campaign = sf.add_campaign("Target" if crm_target else "Source", statuses=statuses)
        self.hs_list = hs.add_list("Source" if crm_target else "Target", "MANUAL")
        self.sf_member_rows: dict[str, str] = {}  # source person → CampaignMember id (a CRM source)

    def seed(self, source: list[str | None], target: list[str]) -> tuple[list[str], list[str]]:
        sf, hs = self.bench.sf.state, self.bench.hs.state
        if self.crm_target:
            return hs.bulk_add_contacts([e or "" for e in source]), sf.bulk_add_contacts(list(target))
        return sf.bulk_add_contacts(list(source)), hs.bulk_add_contacts(list(target))

    def source_set(self, changes: dict[str, str | None]) -> None:
        sf, hs = self.bench.sf.state, self.bench.hs.state
        if self.crm_target:
            joins = [r for r, s in changes.items() if s is not None]
            leaves = [r for r, s in changes.items() if s is None]
            if joins:
                hs.add_list_members(self.hs_list, joins)
            if leaves:
                hs.remove_list_members(self.hs_list, leaves)
            return
        for record, status in changes.items():
            row = self.sf_member_rows.get(record)
            if status is None:
                if row is not None:
                    sf.remove_member(self.sf_member_rows.pop(record))
            elif row is not None:
                sf.set_member_status(row, status)
            else:
                self.sf_member_rows[record] = sf.add_member(self.campaign, record, status)

    def hand_add(self, records: dict[str, str | None]) -> None:
        for record, status in records.items():
            if self.crm_target:
                self.bench.sf.state.add_member(self.campaign, record, status)
            else:
                self.bench.hs.state.add_list_members(self.hs_list, [record])

    def hand_remove(self, record: str) -> None:
        if not self.crm_target:
            self.bench.hs.state.remove_list_members(self.hs_list, [record])
            return
        sf = self.bench.sf.state
        for row in self._campaign_rows():
            if (row.get("ContactId") or row.get("LeadId")) == record:
                sf.remove_member(row["Id"])

    def _campaign_rows(self) -> list[dict[str, object]]:
        sf = self.bench.sf.state
        with sf.lock:
            table = sf.tables["CampaignMember"]
            return [
                dict(table[mid])
                for mid in sf.lookup("CampaignMember", "CampaignId", self.campaign)
                if not table[mid]["IsDeleted"]
            ]

    def members(self) -> list[Member]:
        if self.crm_target:  # every live CampaignMember row: a person twice is two rows
            return [Member(str(r.get("ContactId") or r.get("LeadId")), str(r["Status"])) for r in self._campaign_rows()]
        return [Member(r, None) for r in self.bench.hs.state.list_members(self.hs_list)]

    def records_by_email(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if self.crm_target:
            sf = self.bench.sf.state
            with sf.lock:
                for table in ("Contact", "Lead"):
                    for rec in sf.tables[table].values():
                        email = normalise_email(rec.get("Email"))
                        converted = table == "Lead" and rec.get("IsConverted")
                        if email and not rec["IsDeleted"] and not converted:
                            out.setdefault(email, []).append(str(rec["Id"]))
            return out
        for contact in self.bench.hs.state.contacts.all():
            if not contact.archived:
                email = normalise_email(self.bench.hs.state.contacts.value(contact, "email"))
                if email:
                    out.setdefault(email, []).append(str(contact.id))
        return out

    def client_file(self, rule: str, state_url: str) -> str:
        conns = self.bench.connections_yaml(bulk_threshold=self.bulk_threshold)
        conns = conns.replace("  sf: ", "  crm: ").replace("  hs: ", "  ma: ")
        return f"client: soak\nstate: {json.dumps(state_url)}\n{conns}rules:\n{rule}"

    def environ(self) -> dict[str, str]:
        return self.bench.environ()

    def bulk_jobs(self) -> int:
        """Bulk API 2.0 jobs the sync processes opened (ingest and query)."""
        return self.bench.sf.server.calls(r"/jobs/(ingest|query)$", "POST")
