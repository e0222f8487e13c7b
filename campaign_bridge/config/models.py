"""The validated, frozen shape of a client file (one YAML file per client).

Field descriptions double as the JSON Schema's documentation (``campaign-bridge schema``). Defaults
are the named constants below. Connection blocks are validated by each connector's own settings
model (``connectors/registry.py``); here they are kept as the validated objects.
"""

from __future__ import annotations

import math
import os
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from campaign_bridge.config.alerts import AlertSettings
from campaign_bridge.connectors.base import ConnectionSettings
from campaign_bridge.mapping.segment import MAX_WINDOW, Segment, parse_segment

#: A mirror rule's plan that removes more than this many members has its removals held, not applied.
DEFAULT_MAX_REMOVALS = 500
#: …or more than this fraction of the rule's current members.
DEFAULT_MAX_REMOVAL_FRACTION = 0.25
#: Incremental reads start this far before the watermark, to catch late commits and equal stamps.
DEFAULT_LOOKBACK = "5m"
#: A failed item is retried on this many later runs before it is dead-lettered.
DEFAULT_MAX_ATTEMPTS = 5
#: Even an incremental source gets a full read (to see removals) at least this often.
DEFAULT_FULL_READ_EVERY = "24h"
DEFAULT_EVERY = "15m"

# The ranges of the durations a file may give. A duration outside them is a typo or a probe, never a
# setting someone needs, and the code that uses them (the scheduler's timedelta, the watermark's
# arithmetic) overflows or spins on the extremes, so they are refused when the file is read.

#: A rule runs at most once a minute. Each run lists the source and pays API calls that the vendors
#: count per day (Salesforce's daily allocation, HubSpot's daily limit), and membership changes are
#: made by people and campaigns over minutes, not seconds: an admin who writes ``every: 0s`` or ``5s``
#: means "as soon as possible", which is what a minute is. It is also cron's finest step, so ``every``
#: and ``cron`` agree on how often "often" can be.
MIN_EVERY = "1m"
#: A test or staging deployment may lower that floor through this environment variable (a duration of at
#: least ``HARD_MIN_EVERY``): its runs cost sandbox calls, not a client's allowance. A file cannot lower it.
MIN_EVERY_ENV = "CAMPAIGN_BRIDGE_MIN_EVERY"
#: Never below a second: ``every: 0s`` is a busy loop whatever the environment says.
HARD_MIN_EVERY = "1s"
#: …and at least once a year: anything rarer is a date (write a ``cron``) or a typo for a smaller unit.
MAX_EVERY = "365d"
#: The look-back catches records committed late or stamped alike: seconds to minutes late, hours after
#: a vendor's incident. Past a week an incremental read costs what a full read does; use
#: ``full_read_every`` for that.
MAX_LOOKBACK = "7d"
#: A full read more often than the shortest schedule changes nothing, so the floor is the same minute.
MIN_FULL_READ_EVERY = MIN_EVERY
#: Sources that do not report removals incrementally see a removal only at a full read: a month is the
#: longest an admin would accept a person staying in a target after leaving its source.
MAX_FULL_READ_EVERY = "31d"

#: The widest ``within`` / ``not_within`` window of a segment (the segment language's own bound).
MAX_SEGMENT_WINDOW = MAX_WINDOW

_DURATION = re.compile(r"(\d+)([smhdw])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
#: A count with more digits than this is out of every range above (and ``int`` refuses 4,300 digits).
_MAX_DIGITS = 15

#: Rule-file keys that name a container, per DESIGN §1 and mapping.semantics.
CONTAINER_KEYS = ("campaign", "list", "program", "tag", "smart_campaign")
#: The key of a target naming a campaign and the list to write in it (Dynamics: lists linked to campaigns).
CAMPAIGN_LIST = "campaign_list"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Mode(StrEnum):
    MIRROR = "mirror"  # add and remove (only what the rule owns)
    ADDITIVE = "additive"  # add only


class ExclusivePolicy(StrEnum):
    KEEP_FIRST = "keep_first"  # first touch stays (Pardot's meaning of a prospect's campaign)
    LATEST_WINS = "latest_wins"  # move the person to this rule's container
    PRIORITY = "priority"  # the rule with the lower ``priority`` number wins


class ManualRemoval(StrEnum):
    RESTORE = "restore"
    RESPECT = "respect"


def duration_seconds(text: str) -> float:
    """``30s``, ``5m``, ``2h``, ``1d``, ``1w`` → seconds. Raises ``ValueError`` naming the accepted forms."""
    m = _DURATION.fullmatch(text.strip().lower())
    if m is None:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 5m, 2h, 1d or 1w")
    digits = m.group(1).lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return math.inf
    return float(int(digits) * _UNIT_SECONDS[m.group(2)])


def min_every() -> str:
    """The shortest ``every`` a schedule may give: ``MIN_EVERY``, or what ``MIN_EVERY_ENV`` sets if that is
    a duration of at least ``HARD_MIN_EVERY`` (anything else there is ignored, keeping ``MIN_EVERY``)."""
    wanted = os.environ.get(MIN_EVERY_ENV, "").strip().lower()
    try:
        if wanted and duration_seconds(wanted) >= duration_seconds(HARD_MIN_EVERY):
            return wanted
    except ValueError:
        pass
    return MIN_EVERY


def _duration(value: str, what: str, low: str, high: str, why: str = "") -> str:
    """``value`` normalised (``5M`` → ``5m``) if it is a duration from ``low`` to ``high``, else ``ValueError``."""
    text = value.strip().lower()
    seconds = duration_seconds(text)
    if seconds < duration_seconds(low):
        raise ValueError(f"{value!r} is too short for {what}: the shortest is {low}{why}")
    if seconds > duration_seconds(high):
        raise ValueError(f"{value!r} is too long for {what}: the longest is {high}")
    return text


class Schedule(_Frozen):
    every: str | None = Field(default=None, description="Run every interval: 30s, 5m, 2h, 1d.")
    cron: str | None = Field(default=None, description="Run on a five-field crontab: '*/15 * * * *'.")

    @field_validator("every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        floor = min_every()
        why = f" (a rule runs at most once every {floor}: each run spends the systems' daily API allowance)"
        return None if v is None else _duration(v, "a schedule", floor, MAX_EVERY, why)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(v)
        except ValueError as exc:
            raise ValueError(f"invalid crontab {v!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        return self


class Safety(_Frozen):
    max_removals: int = Field(default=DEFAULT_MAX_REMOVALS, ge=0, description="Hold a plan removing more members.")
    max_removal_fraction: float = Field(
        default=DEFAULT_MAX_REMOVAL_FRACTION, ge=0, le=1, description="Hold a plan removing a larger share."
    )


class Match(_Frozen):
    by: tuple[Literal["email"], ...] = Field(default=("email",), description="How people are matched.")
    prefer: Literal["contact", "lead"] = Field(
        default="contact", description="Which CRM record wins when one email has several."
    )
    create_missing: Literal["skip", "lead", "contact"] | None = Field(
        default=None,
        description="Create a person the target lacks: a CRM lead/contact, or an MA contact (default for MA "
        "targets: contact; for CRM targets: skip).",
    )


class Endpoint(_Frozen):
    """One side of a rule: a connection and one container (or, for a source, a segment)."""

    connection: str
    campaign: str | None = None
    list: str | None = None
    program: str | None = None
    tag: str | None = None
    smart_campaign: str | None = None
    segment: dict[str, Any] | None = Field(default=None, description="A behaviour/profile filter (sources only).")
    member_status: tuple[str, ...] | None = Field(
        default=None, description="Source campaigns: only members with these statuses."
    )
    status: str | None = Field(default=None, description="Target campaigns/programs: the member status to set.")
    create_list: bool = Field(
        default=False,
        description="A target naming a campaign and a list (Dynamics): create the static list and link it to the "
        "campaign when the campaign has no list of that name.",
    )
    status_map: dict[str, str] | None = Field(
        default=None,
        description="Target campaigns/programs: the member status to set for each source member status "
        "(source status → target status); members whose status is not in the map are not selected.",
    )

    @property
    def key(self) -> str:
        """The container key this endpoint uses (campaign, list…), ``campaign_list`` for a campaign with the
        list to write (``to: {campaign: C, list: L}``), or ``segment``."""
        if self.in_campaign is not None:
            return CAMPAIGN_LIST
        for k in (*CONTAINER_KEYS, "segment"):
            if getattr(self, k) is not None:
                return k
        raise ValueError("no container")

    @property
    def container_name(self) -> str:
        if self.in_campaign is not None:
            return str(self.list)
        value = getattr(self, self.key)
        return value if isinstance(value, str) else "segment"

    @property
    def in_campaign(self) -> str | None:
        """The campaign a target's ``list`` is linked to, when the endpoint names both; else None."""
        return self.campaign if self.campaign is not None and self.list is not None else None

    @property
    def parsed_segment(self) -> Segment | None:
        return parse_segment(self.segment) if self.segment is not None else None

    @model_validator(mode="after")
    def _one_container(self) -> Endpoint:
        named = [k for k in (*CONTAINER_KEYS, "segment") if getattr(self, k) is not None]
        if self.create_list and named != ["campaign", "list"]:
            raise ValueError("create_list needs a campaign and the list to write in it: {campaign: …, list: …}")
        if named == ["campaign", "list"]:
            return self  # a campaign with the list to write (CAMPAIGN_LIST); the rule refuses it as a source
        if len(named) != 1:
            options = ", ".join((*CONTAINER_KEYS, "segment"))
            got = ", ".join(named) or "none"
            raise ValueError(f"name exactly one of {options} (got {got})")
        if self.status is not None and self.status_map is not None:
            raise ValueError("give 'status' (one status for everyone) or 'status_map' (per source status), not both")
        if self.status_map is not None and not self.status_map:
            raise ValueError("status_map is empty: map at least one source status to a target status")
        if self.segment is not None:
            # Every value is checked by its field's type here, at load; a ``SegmentError`` says where in
            # the segment, which the loader turns into the line.
            parse_segment(self.segment)
        return self


class Defaults(_Frozen):
    mode: Mode = Mode.ADDITIVE
    schedule: Schedule = Schedule(every=DEFAULT_EVERY)
    safety: Safety = Safety()
    lookback: str = DEFAULT_LOOKBACK
    full_read_every: str = DEFAULT_FULL_READ_EVERY
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, v: str) -> str:
        return _duration(v, "the look-back", "0s", MAX_LOOKBACK)

    @field_validator("full_read_every")
    @classmethod
    def _full_read_every(cls, v: str) -> str:
        return _duration(v, "full_read_every", MIN_FULL_READ_EVERY, MAX_FULL_READ_EVERY)


class Rule(_Frozen):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    source: Endpoint = Field(alias="from")
    target: Endpoint = Field(alias="to")
    mode: Mode | None = None
    match: Match = Match()
    exclusive: ExclusivePolicy = Field(
        default=ExclusivePolicy.KEEP_FIRST, description="Exclusive targets: who keeps a person's one slot."
    )
    priority: int = Field(default=100, description="Lower wins, for exclusive: priority.")
    on_manual_removal: ManualRemoval = Field(
        default=ManualRemoval.RESPECT, description="A member we added and someone removed by hand: restore it?"
    )
    schedule: Schedule | None = None
    safety: Safety | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _campaign_list_is_a_target(self) -> Rule:
        if self.source.in_campaign is not None:
            raise ValueError("from: name a campaign or a list, not both (a campaign with its list is a target)")
        return self


class ClientConfig(_Frozen):
    """A whole client file, validated. ``path`` is where it was read from (for messages)."""

    client: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    state: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite:///state/<client>.db")
    connections: dict[str, ConnectionSettings]
    defaults: Defaults = Defaults()
    rules: tuple[Rule, ...] = ()
    alerts: AlertSettings | None = Field(default=None, description="Who is told, and when (docs/alerts.md).")
    path: str = Field(default="<memory>", exclude=True)
    rule_lines: dict[str, int] = Field(default_factory=dict, exclude=True)

    @property
    def state_url(self) -> str:
        return self.state or f"sqlite:///state/{self.client}.db"

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        import difflib

        close = difflib.get_close_matches(name, [r.name for r in self.rules], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        from campaign_bridge.errors import ConfigError, Problem

        raise ConfigError([Problem(self.path, None, f"no rule named {name!r}{hint}")])

    def mode_of(self, rule: Rule) -> Mode:
        return rule.mode or self.defaults.mode

    def safety_of(self, rule: Rule) -> Safety:
        return rule.safety or self.defaults.safety

    def schedule_of(self, rule: Rule) -> Schedule:
        return rule.schedule or self.defaults.schedule
