"""The state store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

Nothing here holds a secret: connection settings are never stored, only connection *names*.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: One row per person campaign-bridge has seen, across systems.
persons = Table(
    "persons",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("email", String(320), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: The identity crosswalk: which record in which connection is which person.
person_refs = Table(
    "person_refs",
    metadata,
    Column("connection", String(100), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("person_key", String(32), ForeignKey("persons.key"), nullable=False),
    Column("email", String(320)),
    # a ``states.RefState``; ``survivor_id`` names the record that membership follows
    Column("state", String(16), nullable=False, default="active"),
    Column("survivor_id", String(64)),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    # a chunk's persons' records in one connection: (connection, person_key), so that SQLite does not
    # take the primary key's (connection) prefix and scan the connection's whole crosswalk per chunk
    Index("ix_person_refs_connection_person", "connection", "person_key"),
)

#: What each rule last saw in its source (lets an incremental read rebuild the desired set).
source_members = Table(
    "source_members",
    metadata,
    Column("rule", String(200), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("person_key", String(32), nullable=False),
    Column("status", String(100)),
    Column("modified_at", DateTime(timezone=True)),
    Column("seen_in", String(32)),  # a token of the full read that last saw the record
    Index("ix_source_members_rule_person", "rule", "person_key"),
)

#: The membership ledger: what each rule wants in its target and what it has written there.
ledger = Table(
    "ledger",
    metadata,
    Column("rule", String(200), primary_key=True),
    Column("person_key", String(32), primary_key=True),
    Column("connection", String(100), nullable=False),
    Column("container_id", String(64), nullable=False),
    Column("target_record_id", String(64)),
    Column("target_kind", String(40)),
    Column("status", String(100)),
    # True when this rule added the member (so mirror mode may remove it)
    Column("owned", Boolean, nullable=False, default=False),
    # a ``states.LedgerState``
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("written_at", DateTime(timezone=True)),
    Index("ix_ledger_target", "connection", "container_id", "person_key"),
    # other rules' rows for a chunk's persons on a connection (cross-rule checks): without it, SQLite
    # scans the connection's whole ledger per chunk (by ix_ledger_target's connection prefix)
    Index("ix_ledger_connection_person", "connection", "person_key"),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("rule", String(200), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("tie_id", String(64), nullable=False, default=""),
    Column("full_read_at", DateTime(timezone=True)),
    Column("source_version", String(200)),  # the source container's membership version at that full read
    # the source container that full read found (JSON, ``sync.source.remembered``): incremental reads reuse it
    Column("source_container", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("rule", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client", String(100), nullable=False),
    Column("rule", String(200), nullable=False, index=True),
    Column("mode", String(16), nullable=False),  # plan | sync | reconcile
    Column("status", String(16), nullable=False),  # a ``states.RunStatus``
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("read_full", Boolean, nullable=False, default=False),
    Column("counts", JSON, nullable=False, default=dict),
    Column("api_calls", JSON, nullable=False, default=dict),
    Column("timings", JSON, nullable=False, default=dict),
    Column("error", Text),
    # the worker running it (``host:pid:random``, as in ``leases.holder``), so that a run whose process
    # died can be closed by the next one; None on rows written before revision 0005
    Column("holder", String(200)),
)

plans = Table(
    "plans",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("rule", String(200), nullable=False),
    Column("held", Boolean, nullable=False, default=False),
    Column("summary", JSON, nullable=False),
)

#: The decision log: every record not applied exactly as asked, and every change made, with why.
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, index=True),
    Column("rule", String(200), nullable=False, index=True),
    Column("kind", String(40), nullable=False, index=True),
    Column("person_key", String(32), index=True),
    Column("email", String(320), index=True),
    Column("container", String(300)),
    Column("detail", Text, nullable=False),
    Column("is_conflict", Boolean, nullable=False, default=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: What each reconcile found (one row per finding) and what ``--repair`` did about it; its run is in ``runs``.
reconcile_findings = Table(
    "reconcile_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("rule", String(200), nullable=False, index=True),
    # missing | unowned | status_mismatch | stale_identity | orphan_ledger_row
    Column("kind", String(40), nullable=False),
    Column("person_key", String(32)),
    Column("email", String(320)),
    Column("record", String(200)),
    Column("detail", Text, nullable=False),
    # what --repair did: restored | respected | status_raised | status_adopted | repointed | forgotten | failed
    Column("action", String(40)),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: One row per alert a client's file can raise (``campaign_bridge/alerts/``): whether it is firing, what
#: each target was last told, and why the last delivery failed. It holds no URL and no secret: a target
#: is known by a digest of its URL.
alert_state = Table(
    "alert_state",
    metadata,
    Column("client", String(100), primary_key=True),
    Column("rule", String(200), primary_key=True),  # "" for a connection's alert (the API allowance)
    Column("kind", String(40), primary_key=True),  # an ``alerts.AlertKind``
    Column("subject", String(200), primary_key=True),  # the connection of an API allowance alert, else ""
    # what the condition is now (None: not firing); a changed fingerprint is a new alert
    Column("fingerprint", Text),
    Column("summary", Text),  # what happened, as the firing alert said it (the resolved notice repeats it)
    # target digest → the fingerprint that target was last told of ("" once told it was resolved)
    Column("delivered", JSON, nullable=False, default=dict),
    Column("attempts", Integer, nullable=False, default=0),  # deliveries failed since the last that worked
    Column("last_error", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# -- the admin console (revision 0006; ``console_store.py``) -------------------------------------------

#: Console users: a name, an Argon2 hash of the password (never the password), a role.
console_users = Table(
    "console_users",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # viewer | operator | admin
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Console sessions: the SHA-256 of the session cookie (never the cookie), whose it is and until when.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

#: Every change made through the console: who, when, what.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("user", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("client", String(100)),
    Column("action", String(40), nullable=False),
    Column("target", String(300)),
    Column("detail", Text, nullable=False),
)

#: A person's decision on a held plan: ``approved`` (the next sync may apply exactly those removals,
#: ``used_by_run`` then names it) or ``discarded`` (nothing changes). ``fingerprint``: SHA-256 of the held
#: removals' person keys, as the plan (``plans.summary["held_removals"]``) recorded them.
plan_approvals = Table(
    "plan_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("rule", String(200), nullable=False, index=True),
    Column("decision", String(16), nullable=False),  # approved | discarded
    Column("removals", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("used_by_run", Integer),
)

#: Earlier versions of client files saved from the console (the text as it was, ``${ENV}`` references
#: and all: the loader refuses a file holding a literal secret, so none is stored).
client_file_versions = Table(
    "client_file_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", String(1000), nullable=False, index=True),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("saved_by", String(100), nullable=False),
    Column("text", Text, nullable=False),
)
