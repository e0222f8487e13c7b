"""Recipes: the common rules, written for the systems they are given.

They are the segmentation criteria of the project's seed article on segmentation in marketing automation:
e-mail actions (hard bounces and four or more soft bounces, clicks rather than opens, which it calls false
positives), lead actions (pricing or demo requests, pages visited), inactivity (no action in 60 days), lead
score (and grade), and CRM data (lifecycle stage, opportunity stage, owner, last purchase); plus the event
case of the design (registrants and attendees to a nurture list).

``Recipe.write(source, target, params)`` gives a rule as the client file holds it (a plain mapping), or a
refusal that says what the system lacks: a recipe never writes a rule that asks a system for a segment
field it cannot filter on (``Connector.segment_fields``), or a container kind it does not have
(``mapping/semantics.py``). What it left out (a grade on a system without grades) is in its ``notes``.
The rule is then validated like any other (``init`` and ``recipes FILE`` run the loader and the live checks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from campaign_bridge.mapping.segment import SegmentField
from campaign_bridge.mapping.semantics import SEMANTICS, Role

Rule = dict[str, Any]


class RecipeError(ValueError):
    """A recipe's parameters are wrong (missing, not a number, unknown); the message says which."""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    help: str
    default: str | None = None  # None: required


@dataclass(frozen=True, slots=True)
class Side:
    """One end of a recipe's rule: a connection of the client file, its system and its segment fields."""

    connection: str
    system: str
    fields: Mapping[str, SegmentField]

    @property
    def role(self) -> Role:
        return SEMANTICS[self.system].role


@dataclass(frozen=True, slots=True)
class Written:
    """A recipe written for two connections: the ``rule``, or why it cannot be (``refusal``)."""

    recipe: str
    rule: Rule | None
    notes: tuple[str, ...] = ()
    refusal: str | None = None


class Args:
    """A recipe's parameters, defaults applied, read by type."""

    def __init__(self, recipe: Recipe, given: Mapping[str, str]) -> None:
        known = {p.name for p in recipe.params} | {"name"}
        unknown = sorted(set(given) - known)
        if unknown:
            raise RecipeError(
                f"{recipe.name}: unknown parameter {', '.join(unknown)}; it takes {', '.join(sorted(known))}"
            )
        self.recipe = recipe
        self.values = {p.name: p.default for p in recipe.params} | dict(given)

    def text(self, name: str) -> str:
        value = self.values.get(name)
        if value is None or not value.strip():
            param = next(p for p in self.recipe.params if p.name == name)
            raise RecipeError(f"{self.recipe.name}: give --param {name}=… ({param.help})")
        return value.strip()

    def optional(self, name: str) -> str | None:
        value = self.values.get(name)
        return value.strip() if value is not None and value.strip() else None

    def items(self, name: str) -> list[str]:
        return [part.strip() for part in self.text(name).split(",") if part.strip()]

    def number(self, name: str) -> int:
        text = self.text(name)
        if not text.isdigit():
            raise RecipeError(f"{self.recipe.name}: {name} must be a whole number, got {text!r}")
        return int(text)

    def days(self, name: str) -> str:
        return f"{self.number(name)}d"


Writer = Callable[[Side, Side, Args], Written]


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    title: str
    criteria: str  # what it selects and why, in the seed article's terms
    source_role: Role
    target_role: Role
    params: tuple[Param, ...]
    writer: Writer = field(repr=False)

    def write(self, source: Side, target: Side, params: Mapping[str, str]) -> Written:
        """The rule for ``source`` → ``target``; raises ``RecipeError`` for wrong parameters."""
        args = Args(self, params)
        if source.role is not self.source_role or target.role is not self.target_role:
            return Written(
                self.name,
                None,
                refusal=f"{self.name} reads a {self.source_role.upper()} and writes an {self.target_role.upper()} "
                f"system; {source.connection} is {source.system} and {target.connection} is {target.system}",
            )
        written = self.writer(source, target, args)
        if written.rule is not None:
            written.rule["name"] = args.optional("name") or self.name  # "name" is the rule's first key already
        return written


# -- shared parts ------------------------------------------------------------------------------------------


def _lacks(side: Side, *names: str) -> str | None:
    missing = [n for n in names if n not in side.fields]
    if not missing:
        return None
    has = ", ".join(sorted(side.fields)) or "none"
    return f"{side.system} has no segment field {', '.join(missing)} (it has: {has})"


def _target(target: Side, args: Args) -> tuple[dict[str, Any], str | None]:
    """``to:`` for the target's first writable key (a CRM campaign, an MA static list), with its status."""
    for key, kinds in SEMANTICS[target.system].keys.items():
        writable = [k for k in kinds if k.writable]
        if not writable:
            continue
        to: dict[str, Any] = {"connection": target.connection, key: args.text("to")}
        if any(k.has_status for k in writable):
            status = args.optional("status")
            if status is None:
                return to, f"give --param status=… (a member status of the {key} {args.text('to')!r})"
            to["status"] = status
        return to, None
    return {}, f"{target.system} has nothing a rule can write to"


def _rule(
    recipe: str, source: dict[str, Any], target: Side, args: Args, *, mode: str, create: str | None, notes: list[str]
) -> Written:
    to, problem = _target(target, args)
    if problem is not None:
        return Written(recipe, None, tuple(notes), problem)
    rule: Rule = {"name": recipe, "from": source, "to": to, "mode": mode}
    if create is not None:
        rule["match"] = {"prefer": "contact", "create_missing": create}
    return Written(recipe, rule, tuple(notes))


def _segment(source: Side, segment: dict[str, Any]) -> dict[str, Any]:
    return {"connection": source.connection, "segment": segment}


# -- the recipes -------------------------------------------------------------------------------------------


def _event_to_nurture(source: Side, target: Side, args: Args) -> Written:
    kinds = SEMANTICS[source.system].keys.get("campaign", ())
    if not any(k.has_status for k in kinds):
        return Written("event-to-nurture", None, refusal=f"{source.system} has no campaigns with member statuses")
    src = {"connection": source.connection, "campaign": args.text("from"), "member_status": args.items("statuses")}
    return _rule("event-to-nurture", src, target, args, mode="mirror", create=None, notes=[])


def _pricing_requests(source: Side, target: Side, args: Args) -> Written:
    window = args.days("days")
    branches: list[dict[str, Any]] = []
    notes: list[str] = []
    forms = args.optional("forms")
    if forms and _lacks(source, "last_form_submitted", "last_form_submitted_at") is None:
        names = [f.strip() for f in forms.split(",") if f.strip()]
        branches.append(
            {
                "all": [
                    {"field": "last_form_submitted", "in": names},
                    {"field": "last_form_submitted_at", "within": window},
                ]
            }
        )
    elif forms:
        notes.append(f"forms left out: {_lacks(source, 'last_form_submitted', 'last_form_submitted_at')}")
    page = args.optional("page")
    if page and _lacks(source, "last_page_visited", "last_page_visited_at") is None:
        branches.append(
            {
                "all": [
                    {"field": "last_page_visited", "contains": page},
                    {"field": "last_page_visited_at", "within": window},
                ]
            }
        )
    elif page:
        notes.append(f"page left out: {_lacks(source, 'last_page_visited', 'last_page_visited_at')}")
    if not branches:
        return Written(
            "pricing-requests",
            None,
            tuple(notes),
            "nothing to select on: " + "; ".join(notes or ["give forms or page"]),
        )
    segment = branches[0] if len(branches) == 1 else {"any": branches}
    create = args.text("create_missing")
    return _rule(
        "pricing-requests", _segment(source, segment), target, args, mode="additive", create=create, notes=notes
    )


def _bounces(source: Side, target: Side, args: Args) -> Written:
    conditions: list[dict[str, Any]] = []
    notes: list[str] = []
    if "hard_bounced" in source.fields:
        conditions.append({"field": "hard_bounced", "eq": True})
    else:
        notes.append(f"hard bounces left out: {_lacks(source, 'hard_bounced')}")
    if "soft_bounce_count" in source.fields:
        conditions.append({"field": "soft_bounce_count", "gte": args.number("soft")})
    else:
        notes.append(f"soft bounces left out: {_lacks(source, 'soft_bounce_count')}")
    if not conditions:
        return Written(
            "bounces-to-email-health", None, tuple(notes), _lacks(source, "hard_bounced", "soft_bounce_count")
        )
    segment = conditions[0] if len(conditions) == 1 else {"any": conditions}
    return _rule(
        "bounces-to-email-health", _segment(source, segment), target, args, mode="additive", create="skip", notes=notes
    )


def _inactive(source: Side, target: Side, args: Args) -> Written:
    lacking = _lacks(source, "last_activity_at")
    if lacking:
        return Written("inactive-to-winback", None, refusal=lacking)
    segment = {
        "all": [
            {"field": "last_activity_at", "exists": True},
            {"field": "last_activity_at", "not_within": args.days("days")},
        ]
    }
    notes = ["people with no activity ever recorded are left out (exists: true): they are not lapsed, just unknown"]
    return _rule(
        "inactive-to-winback", _segment(source, segment), target, args, mode="additive", create="skip", notes=notes
    )


def _sales_ready(source: Side, target: Side, args: Args) -> Written:
    lacking = _lacks(source, "score")
    if lacking:
        return Written("score-to-sales-ready", None, refusal=lacking)
    conditions: list[dict[str, Any]] = [{"field": "score", "gte": args.number("score")}]
    notes: list[str] = []
    grades = args.optional("grade")
    if grades and "grade" in source.fields:
        conditions.append({"field": "grade", "in": [g.strip() for g in grades.split(",") if g.strip()]})
    elif grades:
        notes.append(f"grade left out: {source.system} has no grade to filter on; the rule selects by score only")
    segment = conditions[0] if len(conditions) == 1 else {"all": conditions}
    create = args.text("create_missing")
    return _rule(
        "score-to-sales-ready", _segment(source, segment), target, args, mode="additive", create=create, notes=notes
    )


def _email_engagement(source: Side, target: Side, args: Args) -> Written:
    name = "email-engagement"
    action = args.text("action").lower()
    if action not in ("clicked", "opened"):
        raise RecipeError(f"{name}: action must be clicked or opened, got {action!r}")
    listed = args.optional("from")
    if listed is not None:
        src: dict[str, Any] = {"connection": source.connection, "list": listed}
        notes = [f"reads the list {listed!r} as the MA system keeps it (mirror: who leaves it leaves the campaign)"]
        return _rule(name, src, target, args, mode="mirror", create="skip", notes=notes)
    email = args.optional("email")
    if email is not None:
        return Written(
            name,
            None,
            refusal=f"{source.system}'s segment fields cannot tell which e-mail was {action} (no field holds the "
            f"e-mail's name); build a list of the people who {action} {email!r} in {source.system} and give it as "
            "--param from=<list name>",
        )
    field_name = "last_email_click_at" if action == "clicked" else "last_email_open_at"
    lacking = _lacks(source, field_name)
    if lacking:
        return Written(name, None, refusal=lacking)
    notes = [f"any marketing e-mail {action} in the window (give from=<list> to follow one e-mail)"]
    if action == "opened":
        notes.append("opens are a weak signal (image loading and mail scanners open e-mails too); clicks are better")
    segment = {"field": field_name, "within": args.days("days")}
    return _rule(name, _segment(source, segment), target, args, mode="additive", create="skip", notes=notes)


#: The CRM fields ``crm-data-to-ma`` may segment on, and how a value is compared.
CRM_FIELDS = ("lifecycle_stage", "lead_status", "opportunity_stage", "owner", "last_purchase_at")


def _crm_data(source: Side, target: Side, args: Args) -> Written:
    name = "crm-data-to-ma"
    crm_field = args.text("field")
    if crm_field not in CRM_FIELDS:
        raise RecipeError(f"{name}: field must be one of {', '.join(CRM_FIELDS)}, got {crm_field!r}")
    lacking = _lacks(source, crm_field)
    if lacking:
        return Written(name, None, refusal=lacking)
    if crm_field == "last_purchase_at":
        condition: dict[str, Any] = {"field": crm_field, "within": args.days("days")}
    else:
        condition = {"field": crm_field, "in": args.items("values")}
    return _rule(name, _segment(source, condition), target, args, mode="mirror", create=None, notes=[])


_TO_CAMPAIGN = Param("to", "the CRM campaign to add them to")
_STATUS = Param("status", "the member status to give them (a status the campaign has)")
_TO_LIST = Param("to", "the MA list to fill (a static list)")

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "event-to-nurture",
            "Event registrants and attendees → nurture list",
            "members of a CRM event campaign with the statuses given go to an MA list; they leave it when they "
            "leave the campaign (mirror)",
            Role.CRM,
            Role.MA,
            (
                Param("from", "the CRM campaign of the event"),
                Param("statuses", "member statuses to take, comma-separated", "Registered,Attended"),
                _TO_LIST,
            ),
            _event_to_nurture,
        ),
        Recipe(
            "pricing-requests",
            "Pricing or demo requests → CRM campaign",
            "people who submitted a pricing or demo form, or visited the pricing page, in the last N days",
            Role.MA,
            Role.CRM,
            (
                Param("forms", "form names, comma-separated (empty: none)", "Pricing request,Demo request"),
                Param("page", "a page address to look for (empty: none)", "/pricing"),
                Param("days", "the window in days", "30"),
                _TO_CAMPAIGN,
                Param("status", _STATUS.help, "Responded"),
                Param("create_missing", "people the CRM lacks: lead, contact or skip", "lead"),
            ),
            _pricing_requests,
        ),
        Recipe(
            "bounces-to-email-health",
            "Hard bounces and ≥4 soft bounces → e-mail health campaign",
            "addresses that bounced hard, or soft at least N times: for sales to find a working address",
            Role.MA,
            Role.CRM,
            (Param("soft", "soft bounces that count as bad", "4"), _TO_CAMPAIGN, _STATUS),
            _bounces,
        ),
        Recipe(
            "inactive-to-winback",
            "No activity for 60 days → win-back",
            "people whose last recorded activity is older than N days",
            Role.MA,
            Role.CRM,
            (Param("days", "days without activity", "60"), _TO_CAMPAIGN, _STATUS),
            _inactive,
        ),
        Recipe(
            "score-to-sales-ready",
            "Score ≥ N (and grade) → sales-ready campaign",
            "people whose lead score reached N (and whose grade is one of those given, where the system grades)",
            Role.MA,
            Role.CRM,
            (
                Param("score", "the lowest score that is sales-ready", "50"),
                Param("grade", "grades that qualify, comma-separated (systems with a grade only)", ""),
                _TO_CAMPAIGN,
                _STATUS,
                Param("create_missing", "people the CRM lacks: lead, contact or skip", "lead"),
            ),
            _sales_ready,
        ),
        Recipe(
            "email-engagement",
            "Clicked or opened an e-mail in N days → CRM campaign",
            "people who clicked (or opened) a marketing e-mail in the last N days; a list the MA system keeps "
            "for one e-mail can be read instead",
            Role.MA,
            Role.CRM,
            (
                Param("action", "clicked or opened", "clicked"),
                Param("days", "the window in days", "30"),
                Param("email", "one e-mail's name (needs from=<list>: no segment field names the e-mail)", ""),
                Param("from", "an MA list of the people who engaged with that e-mail", ""),
                _TO_CAMPAIGN,
                _STATUS,
            ),
            _email_engagement,
        ),
        Recipe(
            "crm-data-to-ma",
            "CRM data (lifecycle stage, opportunity stage, owner, last purchase) → MA list",
            "people the CRM holds with a stage, owner or recent purchase go to an MA list, and leave it when "
            "that changes (mirror)",
            Role.CRM,
            Role.MA,
            (
                Param("field", f"one of {', '.join(CRM_FIELDS)}"),
                Param("values", "values to match, comma-separated (text fields)", ""),
                Param("days", "purchased within this many days (last_purchase_at)", "365"),
                _TO_LIST,
            ),
            _crm_data,
        ),
    )
}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; ``RecipeError`` naming the others when there is none."""
    found = RECIPES.get(name)
    if found is None:
        import difflib

        close = difflib.get_close_matches(name, list(RECIPES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RecipeError(f"no recipe named {name!r}{hint} (recipes: {', '.join(RECIPES)})")
    return found


def applicability(r: Recipe, source: Side, target: Side) -> str | None:
    """None when ``r`` can be written from ``source`` to ``target`` with its default parameters (and a
    placeholder for each required one); else why not."""
    placeholders = {p.name: "X" for p in r.params if p.default is None} | {"status": "X"}
    if r.name == "crm-data-to-ma":
        chosen = next((f for f in CRM_FIELDS if f in source.fields), None)
        if chosen is None:
            return f"{source.system} has none of the CRM fields {', '.join(CRM_FIELDS)}"
        placeholders |= {"field": chosen, "values": "X"}
    try:
        return r.write(
            source, target, {k: v for k, v in placeholders.items() if k in {p.name for p in r.params}}
        ).refusal
    except RecipeError as exc:
        return str(exc)
