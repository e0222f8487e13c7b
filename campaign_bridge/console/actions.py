"""The pages that change something: run now, plan preview, approve or discard a held plan, reconcile and
repair, retry dead letters, edit a client file. Each is a POST (``change``: role and CSRF checked first),
each is written to the audit log, and bad input is refused with the reason and changes nothing."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from starlette.responses import RedirectResponse, Response

from campaign_bridge.config.document import read_text
from campaign_bridge.console.auth import Role
from campaign_bridge.console.editing import annotate, check, diff, write_atomically
from campaign_bridge.console.state import utcnow
from campaign_bridge.console.web import Ctx, Refused, change, page
from campaign_bridge.errors import ConfigError, Problem
from campaign_bridge.sync.store.console import APPROVED, DISCARDED


def _rule_url(client: str, rule: str, suffix: str = "") -> str:
    return f"/c/{client}/r/{rule}{suffix}"


def _start(ctx: Ctx, kind: str, verb: str) -> Response:
    loaded, rule = ctx.console.rule(ctx.path("client"), ctx.path("rule"))
    client = loaded.config.client
    try:
        ctx.console.start(kind, client, rule.name, ctx.viewer.name)
    except RuntimeError as exc:
        raise Refused(f"{exc}; nothing was started", 409) from None
    ctx.audit(kind, f"{client}/{rule.name}", verb, client=client)
    return RedirectResponse(_rule_url(client, rule.name, "#live"), status_code=303)


@change(Role.OPERATOR)
def run_now(ctx: Ctx) -> Response:
    return _start(ctx, "sync", "run now")


@change(Role.OPERATOR)
def preview(ctx: Ctx) -> Response:
    return _start(ctx, "plan", "plan preview (dry run: writes nothing)")


@change(Role.OPERATOR)
def reconcile(ctx: Ctx) -> Response:
    return _start(ctx, "reconcile", "reconcile (compare only)")


@change(Role.OPERATOR)
def repair(ctx: Ctx) -> Response:
    if ctx.field("confirm") != "yes":
        raise Refused("the repair was not confirmed; nothing was changed")
    return _start(ctx, "repair", "reconcile --repair")


def _decide(ctx: Ctx, decision: str) -> Response:
    loaded, rule = ctx.console.rule(ctx.path("client"), ctx.path("rule"))
    client = loaded.config.client
    run_text = ctx.field("run_id")
    held = loaded.store.held_plan(rule.name)
    if held is None or str(held.run_id) != run_text:
        raise Refused(
            f"run {run_text or '?'} is not the newest held plan of {rule.name} (it is "
            f"{held.run_id if held else 'none'}): the page was stale; nothing was changed. Look at the plan again.",
            409,
        )
    if held.fingerprint != ctx.field("fingerprint"):
        raise Refused("the held removals differ from those shown on the page; nothing was changed", 409)
    if loaded.store.superseded(rule.name, held.run_id):
        raise Refused("a later sync of this rule went through: this held plan is out of date; nothing was changed", 409)
    if held.decision is not None:
        raise Refused(f"this plan was already {held.decision} by {held.decided_by}; nothing was changed", 409)
    loaded.store.decide_plan(held, decision, ctx.viewer.name, utcnow())
    what = f"held plan of run {held.run_id}: {len(held.keys)} removals ({held.fingerprint[:12]})"
    ctx.audit(decision, f"{client}/{rule.name}", what, client=client)
    if decision == APPROVED and ctx.field("run") == "now":
        # a run of it under way already: the approval waits for the next one
        with contextlib.suppress(RuntimeError):
            ctx.console.start("sync", client, rule.name, ctx.viewer.name)
    return RedirectResponse(_rule_url(client, rule.name, "#held"), status_code=303)


@change(Role.OPERATOR)
def approve(ctx: Ctx) -> Response:
    return _decide(ctx, APPROVED)


@change(Role.OPERATOR)
def discard(ctx: Ctx) -> Response:
    return _decide(ctx, DISCARDED)


@change(Role.OPERATOR)
def retry(ctx: Ctx) -> Response:
    loaded, rule = ctx.console.rule(ctx.path("client"), ctx.path("rule"))
    n = loaded.store.requeue(rule.name)
    ctx.audit("retry", f"{loaded.config.client}/{rule.name}", f"{n} items requeued", client=loaded.config.client)
    return RedirectResponse(f"/c/{loaded.config.client}/dead?requeued={n}&rule={rule.name}", status_code=303)


# -- the client file -------------------------------------------------------------------------------------
@page()
def file_page(ctx: Ctx) -> Response:
    loaded = ctx.console.client(ctx.path("client"))
    try:
        text = read_text(loaded.path)
    except ConfigError as exc:
        raise Refused("; ".join(str(p) for p in exc.problems)) from None
    _, problems = check(text, loaded.path)
    lines, loose = annotate(text, problems)
    return ctx.render(
        "file.html",
        client=loaded.config.client,
        path=loaded.path,
        text=text,
        lines=lines,
        loose=loose,
        problems=problems,
        saved=None,
        versions=loaded.store.file_versions(loaded.path),
        checked=False,
        base=_digest(text),
    )


@change(Role.ADMIN)
def file_save(ctx: Ctx) -> Response:
    loaded = ctx.console.client(ctx.path("client"))
    client = loaded.config.client
    text = ctx.field("text").replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    current = read_text(loaded.path)
    config, problems = check(text, loaded.path)
    if config is not None and config.client != client:
        problems = [*problems, _renamed(loaded.path, client, config.client)]
        config = None
    saving = ctx.field("action") == "save"
    base = ctx.field("base")
    if saving and config is not None and base and base != _digest(current):
        raise Refused("the file changed on disk since this page was loaded; nothing was saved. Reload it.", 409)
    lines, loose = annotate(text, problems)
    saved = None
    if saving and config is not None:
        loaded.store.keep_file_version(loaded.path, current, ctx.viewer.name, utcnow())
        write_atomically(loaded.path, text)
        saved = diff(current, text, Path(loaded.path).name)
        ctx.audit("edit_file", loaded.path, f"{len(saved)} diff lines", client=client)
        reloaded = ctx.console.scheduling.reload() if ctx.console.scheduling is not None else True
        ctx.console.load()
        if not reloaded:
            saved.append("# (serve refused to reload it; see its log)")
    status = 200 if config is not None else 422
    return ctx.render(
        "file.html",
        status=status,
        client=client,
        path=loaded.path,
        text=text,
        lines=lines,
        loose=loose,
        problems=problems,
        saved=saved,
        versions=loaded.store.file_versions(loaded.path),
        checked=True,
        not_saved=saving and config is None,
        base=_digest(read_text(loaded.path)),
    )


def _renamed(path: str, old: str, new: str) -> Problem:
    return Problem(path, None, f"the client name cannot change here ({old!r} → {new!r}): its state would move")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
