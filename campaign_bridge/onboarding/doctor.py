"""``campaign-bridge doctor``: can this client file run? Each check with what to do when it fails.

Per connection:

* **credentials**: the connection logs in and lists its containers (the call every run starts with);
* **access**: the integration user holds what each rule needs there (``needs.rule_needs``), asked of the
  API where it can tell (``SupportsDiscovery.check_access``); otherwise reported as unknown;
* **allowance**: how much of the vendor's daily API allowance is left (``SupportsDiscovery.allowance``, or
  the vendor counters a listing's answers carried); a problem below ``LOW_ALLOWANCE``;
* **clock**: this machine's clock against the server's ``Date`` header; a problem past ``MAX_CLOCK_SKEW``.

Then the **rules**: ``validate``'s live checks (each rule's containers exist, its target accepts what it
writes, its statuses are there, no loops). And the **state store**: reachable, and migrated to this campaign-bridge's schema (a store that does not
exist yet, or an older one, is created or upgraded as the first run would, and said so).

A check that cannot be made is ``unknown``, never a guess. Any ``problem`` makes ``doctor`` exit 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.discovery import Allowance, Grant, Need, SupportsDiscovery
from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    QuotaExhaustedError,
    StateStoreError,
    TransientError,
)
from campaign_bridge.onboarding.needs import rule_needs

#: Past this, a clock is a problem: incremental reads are bounded by this machine's time and look back
#: ``lookback`` (5 minutes by default) before the watermark the server's stamps set; a minute already eats
#: a fifth of that margin, and signed logins (Salesforce's JWT bearer) start failing at a few minutes.
MAX_CLOCK_SKEW = timedelta(seconds=60)
#: The ``Date`` header counts whole seconds: a difference this small is the header's rounding, not skew.
DATE_RESOLUTION = timedelta(seconds=2)
#: Below this share of the daily allowance left, a run may stop part-way (Salesforce's connector stops at
#: its 5% reserve, HubSpot answers 429 when the day is spent).
LOW_ALLOWANCE = 0.10
SPENT_FIX = (
    "runs stop until the allowance resets: lower the rules' api_budget or their schedule, find the integration "
    "that spends it, or ask the vendor for a larger allowance"
)


class Status(StrEnum):
    OK = "ok"
    PROBLEM = "problem"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result: ``connection`` is empty for the state store; ``fix`` says what to do."""

    connection: str
    check: str
    status: Status
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


def diagnose(
    config: ClientConfig,
    connectors: Mapping[str, Connector],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Finding]:
    """Every check of every connection, then the state store's."""
    needs = rule_needs(config)
    findings: list[Finding] = []
    for name, conn in connectors.items():
        findings += diagnose_connection(conn, needs.get(name, {}), clock=clock)
    if config.rules and not any(f.check == "credentials" and f.status is not Status.OK for f in findings):
        findings += check_rules(config, connectors)
    findings.append(check_state(config))
    return findings


def check_rules(config: ClientConfig, connectors: Mapping[str, Connector]) -> list[Finding]:
    """``validate``'s live checks (containers found, targets writable, statuses there, no loops): one
    listing per connection."""
    from campaign_bridge.sync.live import live_problems

    problems = live_problems(config, connectors, config.rule_lines)
    if not problems:
        return [
            Finding(
                "",
                "rules",
                Status.OK,
                f"every rule's containers found and its target accepts its writes ({len(config.rules)} rules)",
            )
        ]
    fix = f"campaign-bridge discover {config.path} shows the names, kinds and statuses each connection has"
    return [Finding("", "rules", Status.PROBLEM, str(p), fix) for p in problems]


def diagnose_connection(
    conn: Connector, needs: Mapping[Need, list[str]], *, clock: Callable[[], datetime]
) -> list[Finding]:
    """Credentials first: a connection that cannot log in is not asked anything else."""
    name = conn.name
    try:
        listed = len(conn.list_containers())
    except AuthError as exc:
        return [Finding(name, "credentials", Status.PROBLEM, str(exc), _credentials_fix(conn))]
    except QuotaExhaustedError as exc:
        return [
            Finding(name, "credentials", Status.UNKNOWN, "not checked: the API allowance is spent"),
            Finding(name, "allowance", Status.PROBLEM, str(exc), SPENT_FIX),
        ]
    except TransientError as exc:
        fix = "check the connection's URL, this machine's network and that the system is up; run doctor again"
        return [Finding(name, "credentials", Status.PROBLEM, f"could not reach the system: {exc}", fix)]
    except CampaignBridgeError as exc:
        fix = "correct what the message names in the connection's settings"
        return [Finding(name, "credentials", Status.PROBLEM, f"could not ask the system: {exc}", fix)]
    findings = [Finding(name, "credentials", Status.OK, f"logged in; {listed} containers visible")]
    if not isinstance(conn, SupportsDiscovery):
        findings.append(_unknown_access(name, needs))
        findings.append(_allowance(name, _reported_allowance(conn)))
        findings.append(
            Finding(name, "clock", Status.UNKNOWN, f"the {conn.system} connector does not read the server's clock")
        )
        return findings
    findings += _access(conn, needs)
    before = clock()
    try:
        allowance = conn.allowance()
    except CampaignBridgeError as exc:
        findings.append(Finding(name, "allowance", Status.UNKNOWN, f"could not read it: {exc}"))
        allowance = None
    else:
        findings.append(_allowance(name, allowance or _reported_allowance(conn)))
    findings.append(_clock(name, conn.server_time(), before, clock()))
    return findings


def _access(conn: SupportsDiscovery, needs: Mapping[Need, list[str]]) -> list[Finding]:
    name = conn.name if isinstance(conn, Connector) else ""
    if not needs:
        return [Finding(name, "access", Status.OK, "no rule uses this connection yet; nothing to check")]
    try:
        grants = conn.check_access(list(needs))
    except CampaignBridgeError as exc:
        return [Finding(name, "access", Status.UNKNOWN, f"could not ask for the user's permissions: {exc}")]
    by_need: dict[Need, list[Grant]] = {}
    for grant in grants:
        by_need.setdefault(grant.need, []).append(grant)
    findings = []
    for need, given in by_need.items():
        what = f"{need} (for {', '.join(needs.get(need, []))}): {'; '.join(g.evidence for g in given)}"
        if any(g.granted is False for g in given):
            fixes = "; ".join(dict.fromkeys(g.fix for g in given if g.granted is False and g.fix))
            findings.append(Finding(name, "access", Status.PROBLEM, what, fixes))
        elif any(g.granted is None for g in given):
            fixes = "; ".join(dict.fromkeys(g.fix for g in given if g.granted is None and g.fix))
            findings.append(Finding(name, "access", Status.UNKNOWN, what, fixes))
        else:
            findings.append(Finding(name, "access", Status.OK, what))
    return findings


def _unknown_access(name: str, needs: Mapping[Need, list[str]]) -> Finding:
    if not needs:
        return Finding(name, "access", Status.OK, "no rule uses this connection yet; nothing to check")
    wanted = "; ".join(f"{need} (for {', '.join(rules)})" for need, rules in needs.items())
    return Finding(
        name,
        "access",
        Status.UNKNOWN,
        f"this connector cannot ask the system for the user's permissions; the rules need: {wanted}",
        "make sure the integration user may do each of these; a run that may not fails with the system's refusal",
    )


def _reported_allowance(conn: Connector) -> Allowance | None:
    usage = conn.usage()
    if usage.used is None or not usage.limit:
        return None
    return Allowance(usage.used, usage.limit, "as the system reported it", "response headers")


def _allowance(name: str, allowance: Allowance | None) -> Finding:
    if allowance is None:
        return Finding(name, "allowance", Status.UNKNOWN, "the system did not report its API allowance")
    detail = (
        f"{allowance.remaining:,} of {allowance.limit:,} API calls left ({allowance.remaining_fraction:.0%}; "
        f"{allowance.period}; from {allowance.source})"
    )
    if allowance.remaining_fraction < LOW_ALLOWANCE:
        return Finding(name, "allowance", Status.PROBLEM, detail, SPENT_FIX)
    return Finding(name, "allowance", Status.OK, detail)


def _clock(name: str, server: datetime | None, before: datetime, after: datetime) -> Finding:
    if server is None:
        return Finding(name, "clock", Status.UNKNOWN, "the server sent no Date header")
    local = before + (after - before) / 2
    skew = server - local
    seconds = skew.total_seconds()
    detail = f"the server's clock is {abs(seconds):.0f} s {'ahead of' if seconds > 0 else 'behind'} this machine's"
    if abs(skew) <= DATE_RESOLUTION:
        return Finding(name, "clock", Status.OK, "this machine's clock agrees with the server's (within 2 s)")
    if abs(skew) > MAX_CLOCK_SKEW:
        fix = (
            "synchronise this machine's clock (NTP: timedatectl set-ntp true); incremental reads are bounded by "
            "this clock and may miss records while it is off"
        )
        return Finding(name, "clock", Status.PROBLEM, detail, fix)
    return Finding(name, "clock", Status.OK, detail)


def _credentials_fix(conn: Connector) -> str:
    return (
        f"check the {conn.system} credentials this connection names (the environment variables of its auth "
        "block hold the current secret, the app or user is active and allowed to log in from here)"
    )


def check_state(config: ClientConfig) -> Finding:
    """The state store: current as it is, or created or upgraded now (what the first run would do)."""
    from campaign_bridge.sync.store.store import Store

    url = _shown_url(config.state_url)
    try:
        Store(config.state_url, read_only=True).close()
    except StateStoreError:
        pass  # not there yet, or older: opened for writing below, as the first run opens it
    else:
        return Finding("", "state", Status.OK, f"{url}: reachable, schema current")
    try:
        Store(config.state_url).close()
    except StateStoreError as exc:
        return Finding("", "state", Status.PROBLEM, str(exc), "see the message: it names the database and the cause")
    return Finding(
        "", "state", Status.OK, f"{url}: reachable; created or upgraded to the current schema, as a first run would"
    )


def _shown_url(url: str) -> str:
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: the store's own error says so
        return "the state store"
