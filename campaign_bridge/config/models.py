"""The validated, frozen shape of a client file (one YAML file per client).

Field descriptions double as the JSON Schema's documentation (``campaign-bridge schema``). Defaults
are the named constants below. Connection blocks are validated by each connector's own settings
model (``connectors/registry.py``); here they are kept as the validated objects.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from campaign_bridge.connectors.base import ConnectionSettings
from campaign_bridge.mapping.segment import Segment, parse_days, parse_segment

#: A mirror rule's plan that removes more than this many members is held, not applied.
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

#: Rule-file keys that name a container, per DESIGN §1 and mapping.semantics.
CONTAINER_KEYS = ("campaign", "list", "program", "tag", "smart_campaign")


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


def _duration(value: str) -> str:
    text = value.strip().lower()
    if text.endswith("m") and text[:-1].isdigit():
        return text
    if text.endswith("s") and text[:-1].isdigit():
        return text
    parse_days(text)  # d / h / w, raises ValueError with the accepted forms
    return text


def duration_seconds(text: str) -> float:
    """``30s``, ``5m``, ``2h``, ``1d``, ``1w`` → seconds."""
    if text.endswith("s"):
        return float(text[:-1])
    if text.endswith("m"):
        return float(text[:-1]) * 60
    return parse_days(text).total_seconds()


class Schedule(_Frozen):
    every: str | None = Field(default=None, description="Run every interval: 30s, 5m, 2h, 1d.")
    cron: str | None = Field(default=None, description="Run on a five-field crontab: '*/15 * * * *'.")

    @field_validator("every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        return None if v is None else _duration(v)

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

    @property
    def key(self) -> str:
        """The container key this endpoint uses (campaign, list…) or ``segment``."""
        for k in (*CONTAINER_KEYS, "segment"):
            if getattr(self, k) is not None:
                return k
        raise ValueError("no container")

    @property
    def container_name(self) -> str:
        value = getattr(self, self.key)
        return value if isinstance(value, str) else "segment"

    @property
    def parsed_segment(self) -> Segment | None:
        return parse_segment(self.segment) if self.segment is not None else None

    @model_validator(mode="after")
    def _one_container(self) -> Endpoint:
        named = [k for k in (*CONTAINER_KEYS, "segment") if getattr(self, k) is not None]
        if len(named) != 1:
            options = ", ".join((*CONTAINER_KEYS, "segment"))
            got = ", ".join(named) or "none"
            raise ValueError(f"name exactly one of {options} (got {got})")
        if self.segment is not None:
            parse_segment(self.segment)
        return self


class Defaults(_Frozen):
    mode: Mode = Mode.ADDITIVE
    schedule: Schedule = Schedule(every=DEFAULT_EVERY)
    safety: Safety = Safety()
    lookback: str = DEFAULT_LOOKBACK
    full_read_every: str = DEFAULT_FULL_READ_EVERY
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)

    @field_validator("lookback", "full_read_every")
    @classmethod
    def _durations(cls, v: str) -> str:
        return _duration(v)


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


class ClientConfig(_Frozen):
    """A whole client file, validated. ``path`` is where it was read from (for messages)."""

    client: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    state: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite:///state/<client>.db")
    connections: dict[str, ConnectionSettings]
    defaults: Defaults = Defaults()
    rules: tuple[Rule, ...] = ()
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
