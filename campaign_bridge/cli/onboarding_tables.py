"""What ``discover``, ``doctor``, ``recipes`` and ``init`` print (tables on standard output, like output.py's)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from campaign_bridge.cli.output import out
from campaign_bridge.onboarding.discover import ConnectionView
from campaign_bridge.onboarding.doctor import Finding, Status
from campaign_bridge.onboarding.init import InitResult
from campaign_bridge.onboarding.recipes import Recipe, Written

_MARK = {
    Status.OK: "[green]ok[/green]",
    Status.PROBLEM: "[red]PROBLEM[/red]",
    Status.UNKNOWN: "[yellow]unknown[/yellow]",
}


def print_discovery(views: Sequence[ConnectionView]) -> None:
    for v in views:
        out.print(
            f"[bold]{escape(v.name)}[/bold] ({v.system}, {v.role.upper()}): a campaign here is {escape(v.campaign_means)}"
        )
        if v.error is not None:
            out.print(f"  [red]could not list its containers:[/red] {escape(v.error)}")
        else:
            table = Table(show_edge=False)
            for column in ("key", "name", "id", "members", "member statuses", "source", "target"):
                table.add_column(column, overflow="fold")
            for c in v.containers:
                statuses = ", ".join(s.label + ("*" if s.responded else "") for s in c.statuses)
                table.add_row(
                    c.key if c.key == c.kind else f"{c.key} ({c.kind})",
                    escape(c.name),
                    c.id,
                    "?" if c.members is None else f"{c.members:,}",
                    escape(statuses),
                    "yes" if c.source else f"no: {escape(c.source_why)}",
                    ("yes, with a status" if c.statuses else "yes") if c.target else f"no: {escape(c.target_why)}",
                )
            out.print(table)
        fields = ", ".join(f"{name} ({kind})" for name, kind in v.segment_fields.items()) or "none"
        out.print(f"  segment fields: {fields}")
        if v.lacks_fields:
            out.print(f"  not on {v.system}: {', '.join(v.lacks_fields)}")
        spent = ", ".join(f"{k} {n}" for k, n in sorted(v.calls_by_endpoint.items()))
        out.print(f"  API calls: {v.calls}" + (f" ({spent})" if spent else ""))
        out.print("")
    out.print("* a status that counts as responded.")


def print_findings(findings: Sequence[Finding]) -> None:
    table = Table(show_edge=False)
    for column in ("connection", "check", "status", "detail", "what to do"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(f.connection or "(all)", f.check, _MARK[f.status], escape(f.detail), escape(f.fix))
    out.print(table)
    problems = sum(1 for f in findings if f.status is Status.PROBLEM)
    unknown = sum(1 for f in findings if f.status is Status.UNKNOWN)
    verdict = (
        "[green]no problems[/green]" if not problems else f"[red]{problems} problem{'s' if problems > 1 else ''}[/red]"
    )
    out.print(f"{verdict}; {unknown} check{'s' if unknown != 1 else ''} the systems cannot answer")


def print_recipes(recipes: Sequence[Recipe], applies: dict[str, dict[str, str | None]]) -> None:
    """Each recipe with its parameters; ``applies``: recipe → "source → target" pair → refusal or None."""
    for r in recipes:
        out.print(f"[bold]{r.name}[/bold]: {escape(r.title)}")
        out.print(f"  {escape(r.criteria)}")
        for p in r.params:
            default = "required" if p.default is None else f"default {p.default!r}" if p.default else "optional"
            out.print(f"  --param {r.name}.{p.name}=…  {escape(p.help)} ({default})")
        for pair, refusal in applies.get(r.name, {}).items():
            out.print(
                f"  {escape(pair)}: "
                + ("[green]applies[/green]" if refusal is None else f"[yellow]no[/yellow]: {escape(refusal)}")
            )
        out.print("")


def print_written(written: Sequence[Written], console: Console = out) -> None:
    for w in written:
        if w.rule is None:
            console.print(f"[yellow]{w.recipe}: not written[/yellow]: {escape(w.refusal or '')}", soft_wrap=True)
        else:
            console.print(f"[green]{w.recipe}[/green]: rule {w.rule['name']!r}", soft_wrap=True)
        for note in w.notes:
            console.print(f"  note: {escape(note)}", soft_wrap=True)


def print_init(result: InitResult) -> None:
    print_written(result.rules)  # a refused recipe is among the problems
    for name, tested in result.tested.items():
        out.print(f"connection {name}: {escape(tested)}", soft_wrap=True)
    if result.problems:
        out.print("[red]not written[/red]: the file would not pass `campaign-bridge validate`:", soft_wrap=True)
        for p in result.problems:
            out.print(f"  {escape(p)}", soft_wrap=True)
        return
    out.print(f"wrote {result.client_file} ({len(result.rules)} rules) and {result.env_file}", soft_wrap=True)
    if result.unset:
        out.print(
            f"set these before running it: {', '.join(result.unset)} (names listed in {result.env_file.name})",
            soft_wrap=True,
        )
    out.print(f"next: campaign-bridge doctor {result.client_file}", soft_wrap=True)
