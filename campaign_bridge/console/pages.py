"""The pages that read: overview, a rule, conflicts (and their CSV), explain, reconcile findings, dead
letters, the audit log. Every list is paged on the server, by keyset on indexed columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response, StreamingResponse

from campaign_bridge.config.models import ClientConfig, Rule, Schedule
from campaign_bridge.console.chart import history_chart
from campaign_bridge.console.state import Loaded
from campaign_bridge.console.web import Ctx, Refused, page
from campaign_bridge.sync.plan import CONFLICTS
from campaign_bridge.sync.store.states import LedgerState

#: Rows per page of every paged list.
PAGE = 50
#: Runs shown in a rule's history (and its chart).
HISTORY = 30
CSV_FIELDS = ("at", "rule", "kind", "email", "container", "detail", "run_id")


def _system(config: ClientConfig, connection: str) -> str:
    settings = config.connections.get(connection)
    return settings.type if settings is not None else "?"


def describe(schedule: Schedule) -> str:
    return f"every {schedule.every}" if schedule.every is not None else f"cron {schedule.cron}"


def rule_summary(ctx: Ctx, loaded: Loaded, rule: Rule) -> dict[str, Any]:
    """A rule as the overview lists it."""
    config, store = loaded.config, loaded.store
    scheduling = ctx.console.scheduling
    last = store.runs(limit=1, rule=rule.name, mode="sync")
    counts = store.ledger_counts(rule.name)
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "direction": f"{_system(config, rule.source.connection)} → {_system(config, rule.target.connection)}",
        "source": f"{rule.source.connection}:{rule.source.container_name}",
        "target": f"{rule.target.connection}:{rule.target.container_name}",
        "mode": config.mode_of(rule).value,
        "schedule": describe(config.schedule_of(rule)),
        "next": scheduling.next_fire(config.client, rule.name) if rule.enabled and scheduling is not None else None,
        "last": last[0] if last else None,
        "dead": counts.get(LedgerState.DEAD, 0) + counts.get(LedgerState.REJECTED, 0),
        "members": counts.get(LedgerState.PRESENT, 0),
    }


@page()
def overview(ctx: Ctx) -> Response:
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    clients = []
    for name, loaded in ctx.console.clients.items():
        rules = [rule_summary(ctx, loaded, r) for r in loaded.config.rules]
        held = loaded.store.undecided_held_plans()
        drift = {}
        for rule in loaded.config.rules:
            _, findings = loaded.store.latest_findings(rule.name)
            if findings:
                drift[rule.name] = len(findings)
        attention = []
        for r in rules:
            if r["name"] in held:
                attention.append((r["name"], "held plan waiting for a decision", "held"))
            if r["dead"]:
                attention.append((r["name"], f"{r['dead']} dead letters", "dead"))
            if r["last"] is not None and r["last"]["status"] in ("failed", "partial", "stopped"):
                attention.append((r["name"], f"last run {r['last']['status']}: {r['last']['error'] or ''}", "failed"))
            if r["name"] in drift:
                attention.append((r["name"], f"reconcile found {drift[r['name']]} drifts", "drift"))
        budgets = {
            conn: {"used": used, "budget": loaded.config.connections[conn].api_budget}
            for conn, used in sorted(loaded.store.api_calls_since(midnight).items())
            if conn in loaded.config.connections
        }
        clients.append({"name": name, "path": loaded.path, "rules": rules, "attention": attention, "budgets": budgets})
    return ctx.render("overview.html", clients=clients, problems=ctx.console.problems, now=now)


@page()
def rule_page(ctx: Ctx) -> Response:
    loaded, rule = ctx.console.rule(ctx.path("client"), ctx.path("rule"))
    runs = loaded.store.runs(limit=HISTORY, rule=rule.name)
    syncs = [r for r in reversed(runs) if r["mode"] == "sync"]
    held = loaded.store.held_plan(rule.name)
    held_page = _held_page(held, ctx.arg("held_page", "1")) if held is not None else None
    activity = ctx.console.activity(loaded.config.client, rule.name)
    preview = None
    if activity is not None and activity.kind == "plan" and not activity.running:
        number = _page_number(ctx.arg("page", "1"))
        items = activity.items[(number - 1) * PAGE : number * PAGE]
        pages = max(1, -(-len(activity.items) // PAGE))
        preview = {"items": items, "page": number, "pages": pages, "total": len(activity.items)}
    safety = loaded.config.safety_of(rule)
    return ctx.render(
        "rule.html",
        client=loaded.config.client,
        rule=rule,
        summary=rule_summary(ctx, loaded, rule),
        settings=rule.model_dump(mode="json", by_alias=True, exclude_none=True),
        safety=safety,
        runs=runs,
        chart=history_chart(syncs),
        held=held,
        held_page=held_page,
        superseded=held is not None and loaded.store.superseded(rule.name, held.run_id),
        activity=activity,
        preview=preview,
    )


def _page_number(text: str) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        raise Refused(f"page must be a number, not {text!r}") from None


def _held_page(held: Any, number_text: str) -> dict[str, Any]:
    removals = held.summary.get("changes", {}).get("removals", [])
    number = _page_number(number_text)
    return {
        "items": removals[(number - 1) * PAGE : number * PAGE],
        "page": number,
        "pages": max(1, -(-len(removals) // PAGE)),
        "total": len(removals),
    }


@page()
def progress(ctx: Ctx) -> Response:
    """The live part of a rule's page: what the console's run of it is doing (polled while it runs)."""
    activity = ctx.console.activity(ctx.path("client"), ctx.path("rule"))
    return ctx.render("progress.html", activity=activity, client=ctx.path("client"), rule=ctx.path("rule"))


def _conflict_filters(ctx: Ctx) -> tuple[Loaded, dict[str, Any]]:
    name = ctx.arg("client") or next(iter(ctx.console.clients))
    loaded = ctx.console.client(name)
    filters: dict[str, Any] = {}
    if ctx.arg("rule"):
        if all(r.name != ctx.arg("rule") for r in loaded.config.rules):
            raise Refused(f"client {name!r} has no rule named {ctx.arg('rule')!r}", 404)
        filters["rule"] = ctx.arg("rule")
    if ctx.arg("kind"):
        filters["kind"] = ctx.arg("kind")
    for key in ("since", "until"):
        text = ctx.arg(key)
        if text:
            try:
                when = datetime.fromisoformat(text)
            except ValueError:
                raise Refused(f"{key}: {text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            if key == "until" and len(text) == 10:
                when += timedelta(days=1)  # a day given as "until" includes that day
            filters[key] = when
    return loaded, filters


@page()
def conflicts(ctx: Ctx) -> Response:
    loaded, filters = _conflict_filters(ctx)
    before_text = ctx.arg("before")
    before = int(before_text) if before_text.isdigit() else None
    rows = loaded.store.conflicts_page(**filters, before=before, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    query = {k: ctx.arg(k) for k in ("client", "rule", "kind", "since", "until") if ctx.arg(k)}
    query.setdefault("client", loaded.config.client)
    older = urlencode({**query, "before": rows[-1]["id"]}) if more and rows else None
    return ctx.render(
        "conflicts.html",
        client=loaded.config.client,
        rules=[r.name for r in loaded.config.rules],
        kinds=sorted(k.value for k in CONFLICTS),
        rows=rows,
        query=query,
        older=older,
        newest=urlencode(query) if before is not None else None,
        csv_query=urlencode(query),
    )


@page()
def conflicts_csv(ctx: Ctx) -> Response:
    loaded, filters = _conflict_filters(ctx)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for n, row in enumerate(loaded.store.iter_conflicts(**filters), 1):
            writer.writerow({**row, "at": row["at"].isoformat() if row["at"] else ""})
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    name = f"conflicts-{loaded.config.client}.csv"
    return StreamingResponse(
        lines(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def record_url(config: ClientConfig, connection: str, record_id: str | None) -> str | None:
    """A link to a record in its system, where the system has one we can build from the settings."""
    settings = config.connections.get(connection)
    if settings is None or not record_id:
        return None
    instance = getattr(settings, "instance_url", None)
    if settings.type == "salesforce" and instance:
        return f"{str(instance).rstrip('/')}/{record_id}"
    return None


@page()
def explain_page(ctx: Ctx) -> Response:
    from campaign_bridge.sync.explain import explain

    email = ctx.arg("email")
    results = []
    if email:
        if "@" not in email:
            raise Refused(f"{email!r} is not an email address")
        for name, loaded in ctx.console.clients.items():
            answer = explain(loaded.store, loaded.config, email)
            records = loaded.store.records_of_email(email)
            for entry in answer:
                rule = loaded.config.rule(entry["rule"])
                sides = []
                for side, endpoint in (("source", rule.source), ("target", rule.target)):
                    for rec in records.get(endpoint.connection, []):
                        sides.append(
                            {
                                "side": side,
                                "connection": endpoint.connection,
                                "record": rec["record_id"],
                                "kind": rec["kind"],
                                "url": record_url(loaded.config, endpoint.connection, rec["record_id"]),
                            }
                        )
                entry["records"] = sides
            results.append({"client": name, "rules": answer})
    return ctx.render("explain.html", email=email, results=results)


@page()
def reconcile_page(ctx: Ctx) -> Response:
    loaded = ctx.console.client(ctx.path("client"))
    per_rule = []
    for rule in loaded.config.rules:
        run, findings = loaded.store.latest_findings(rule.name)
        kinds: dict[str, int] = {}
        for f in findings:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        per_rule.append(
            {
                "rule": rule.name,
                "run": run,
                "findings": findings[:PAGE],
                "total": len(findings),
                "kinds": kinds,
                "activity": ctx.console.activity(loaded.config.client, rule.name),
            }
        )
    return ctx.render("reconcile.html", client=loaded.config.client, rules=per_rule)


#: What ``reconcile --repair`` writes for each kind of finding (``reconciler/compare.py``), for its confirmation.
REPAIRS = {
    "status_mismatch": "raises the member's status in the target to the rule's when it is lower; a higher one is "
    "kept and recorded (a status never moves backwards)",
    "stale_identity": "points the crosswalk and ledger at the surviving record (a converted lead, a merge), or "
    "forgets a deleted one; no write to the target",
    "orphan_ledger_row": "forgets the ledger row; no write to the target",
    "unowned": "nothing: a member this rule did not add is never touched",
}


def repair_of(kind: str, rule: Rule) -> str:
    if kind == "missing":
        if rule.on_manual_removal.value == "restore":
            return "adds the member to the target again (the rule says on_manual_removal: restore)"
        return "no write: records the removal as respected (the rule says on_manual_removal: respect)"
    return REPAIRS.get(kind, "see docs/reconciler.md")


@page()
def repair_confirm(ctx: Ctx) -> Response:
    loaded, found = ctx.console.rule(ctx.path("client"), ctx.path("rule"))
    run, findings = loaded.store.latest_findings(found.name)
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    writes = [(kind, n, repair_of(kind, found)) for kind, n in sorted(kinds.items())]
    return ctx.render(
        "repair.html", client=loaded.config.client, rule=found.name, run=run, writes=writes, findings=findings[:PAGE]
    )


@page()
def dead_letters(ctx: Ctx) -> Response:
    loaded = ctx.console.client(ctx.path("client"))
    after = ctx.arg("after") or None
    only = ctx.arg("rule")
    per_rule = []
    for rule in loaded.config.rules:
        if only and rule.name != only:
            continue
        rows = loaded.store.dead_letters(rule.name, after=after if only else None, limit=PAGE + 1)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        per_rule.append(
            {
                "rule": rule.name,
                "rows": rows,
                "next": urlencode({"rule": rule.name, "after": rows[-1]["person_key"]}) if more else None,
            }
        )
    return ctx.render("dead.html", client=loaded.config.client, rules=per_rule)


@page()
def audit_page(ctx: Ctx) -> Response:
    before_text = ctx.arg("before")
    rows = ctx.console.store.audit_entries(limit=PAGE + 1, before=int(before_text) if before_text.isdigit() else None)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return ctx.render("audit.html", rows=rows, older=rows[-1]["id"] if more else None)
