"""``explain``: why a person is (or isn't) in each rule's target, from the ledger and the decision log.

It reads only the state store (no system is asked), so it answers for what the last runs saw and did.
"""

from __future__ import annotations

from typing import Any

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.mapping.model import normalise_email
from campaign_bridge.sync.store.store import Store


def explain(store: Store, config: ClientConfig, email: str) -> list[dict[str, Any]]:
    """For each rule: is this person in its target, and why (ledger state + latest decisions)."""
    normal = normalise_email(email)
    out: list[dict[str, Any]] = []
    keys: set[str] = set()
    if normal is not None:  # a blank address is nobody's (and to the decision log, no filter at all)
        keys = store.decision_persons(normal) | set(store.persons_by_emails([normal]).values())
    for rule in config.rules:
        rows = [r for k in keys for r in store.ledger(rule.name, [k]).values()]
        # each rule's own latest decisions: another rule's many decisions about the address never hide them
        mine = [] if normal is None else store.decisions(email=normal, rule=rule.name, limit=10)
        target = f"{rule.target.connection}:{rule.target.container_name}"
        if rows:
            row = rows[0]
            if row.state == "present":
                who = "added by this rule" if row.owned else "was already there (not added by this rule)"
                verdict = f"in {target}" + (f" with status {row.status!r}" if row.status else "") + f"; {who}"
            elif row.state == "pending":
                verdict = f"maybe in {target}: a run stopped while adding this person; the next run confirms it"
            elif row.state == "removing":
                verdict = f"maybe in {target}: a run stopped while removing this person; the next run finishes it"
            else:
                verdict = f"not in {target}: {row.state}" + (f" ({row.last_error})" if row.last_error else "")
        elif mine:
            verdict = f"not in {target}: see the decisions below"
        else:
            verdict = (
                f"not in {target}: not in this rule's source ({rule.source.connection}:{rule.source.container_name})"
            )
        out.append(
            {
                "rule": rule.name,
                "target": target,
                "verdict": verdict,
                "decisions": [
                    {
                        "at": d["at"].isoformat() if d["at"] else None,
                        "kind": d["kind"],
                        "detail": d["detail"],
                        "run_id": d["run_id"],
                    }
                    for d in mine
                ],
            }
        )
    return out
