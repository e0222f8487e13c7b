"""``campaign-bridge init``'s parts: the questions a connection's settings ask, and the files it writes.

The questions come from the connector's own settings model (``Connector.Settings``), so a system added
later is asked about without a line here: every required field, every optional ``…_url`` field, and the
``auth`` block's ``method`` and that method's required fields. Any other field is given with
``--set CONNECTION.FIELD=VALUE`` (``--set sf.ca_bundle=…``).

A secret field (``SecretStr``) is never answered with a value: it is written as a ``${NAME}`` reference, the
variable named after the client, the connection and the field unless the answer names one
(``${CB_DEMO_SF_CLIENT_SECRET}``). The env-file template beside the client file lists every variable the
file references, with no values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from campaign_bridge.connectors.registry import connector_class

#: Settings every connection has whose defaults are right for a start (tuned later if ever).
NOT_ASKED = frozenset({"type", "api_budget", "timeout"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


class InitError(ValueError):
    """An answer ``init`` cannot use (a literal secret, an unknown type or field); the message says which."""


@dataclass(frozen=True, slots=True)
class Question:
    """One setting to ask for: where it goes in the connection's block (``("auth", "client_id")``)."""

    path: tuple[str, ...]
    help: str
    required: bool
    secret: bool = False
    default: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return ".".join(self.path)


def questions(system: str, answers: Mapping[str, str] | None = None) -> list[Question]:
    """The questions for a connection of type ``system``; the auth method's own ones follow the method
    ``answers`` gives (``{"auth.method": "oauth"}``), else the first method. Raises ``InitError`` for an
    unknown type or method."""
    try:
        model = connector_class(system).Settings
    except (KeyError, ImportError) as exc:
        raise InitError(f"unknown connection type {system!r}") from exc
    answers = answers or {}
    asked: list[Question] = []
    for name, info in model.model_fields.items():
        if name in NOT_ASKED:
            continue
        methods = _auth_methods(info)
        if methods:
            chosen = answers.get(f"{name}.method") or next(iter(methods))
            if chosen not in methods:
                raise InitError(f"{system} has no {name} method {chosen!r}; it has {', '.join(methods)}")
            asked.append(Question((name, "method"), f"how {system} authenticates", True, choices=tuple(methods)))
            asked += _fields(methods[chosen], (name,), include_urls=False)
        elif info.is_required() or name.endswith("_url"):
            asked.append(_question((name,), info))
    return asked


def _auth_methods(info: FieldInfo) -> dict[str, type[BaseModel]]:
    """The auth models of a discriminated ``method`` union, by method; empty for any other field."""
    found: dict[str, type[BaseModel]] = {}
    for arg in _flatten(info.annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel) and "method" in arg.model_fields:
            method = arg.model_fields["method"].annotation
            if get_origin(method) is Literal:
                found[str(get_args(method)[0])] = arg
    return found


def _flatten(annotation: Any) -> Iterable[Any]:
    args = get_args(annotation)
    if not args:
        yield annotation
        return
    for arg in args:
        yield from _flatten(arg)


def _fields(model: type[BaseModel], prefix: tuple[str, ...], *, include_urls: bool) -> list[Question]:
    return [
        _question((*prefix, name), info)
        for name, info in model.model_fields.items()
        if name != "method" and (info.is_required() or (include_urls and name.endswith("_url")))
    ]


def _question(path: tuple[str, ...], info: FieldInfo) -> Question:
    secret = any(arg is SecretStr for arg in _flatten(info.annotation))
    default = None if info.is_required() or info.default is None else str(info.default)
    return Question(path, info.description or path[-1].replace("_", " "), info.is_required(), secret, default)


def env_name(client: str, connection: str, field: str) -> str:
    """The variable a secret is read from unless the answer names one: ``ACME_SF_CLIENT_SECRET``."""
    return re.sub(r"[^A-Z0-9]+", "_", f"{client}_{connection}_{field}".upper()).strip("_")


def connection_block(client: str, connection: str, system: str, answers: Mapping[str, str]) -> dict[str, Any]:
    """The connection's block for the client file from ``answers`` (``path → text``; a secret's answer is
    ``${NAME}`` or empty, for the default name). Raises ``InitError`` for a literal secret or a required
    setting left unanswered."""
    block: dict[str, Any] = {"type": system}
    secrets = {q.key for q in questions(system, answers) if q.secret}
    missing = [q.key for q in questions(system, answers) if q.required and not q.secret and not answers.get(q.key)]
    if missing:
        flags = " ".join(f"--set {connection}.{key}=…" for key in missing)
        raise InitError(f"connection {connection!r} ({system}) needs {', '.join(missing)}: give {flags}")
    for key in sorted(set(answers) | secrets, key=_order(system, answers)):
        value = answers.get(key, "")
        if key in secrets or _is_secret(system, key, answers):
            value = _secret_ref(client, connection, key, value)
        elif value == "":
            continue
        _put(block, key.split("."), _typed(value))
    return block


def _order(system: str, answers: Mapping[str, str]) -> Any:
    asked = [q.key for q in questions(system, answers)]
    return lambda key: (asked.index(key) if key in asked else len(asked), key)


def _is_secret(system: str, key: str, answers: Mapping[str, str]) -> bool:
    """Whether ``key`` (``auth.private_key``) is a ``SecretStr`` field of the connection's settings."""
    model: Any = connector_class(system).Settings
    parts = key.split(".")
    for i, part in enumerate(parts):
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return False
        methods = _auth_methods(info)
        if methods and i < len(parts) - 1:
            model = methods.get(answers.get(f"{'.'.join(parts[: i + 1])}.method", ""), next(iter(methods.values())))
            continue
        if i == len(parts) - 1:
            return any(arg is SecretStr for arg in _flatten(info.annotation))
        model = next((a for a in _flatten(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return False


def _secret_ref(client: str, connection: str, key: str, value: str) -> str:
    if not value:
        return "${" + env_name(client, connection, key.split(".")[-1]) + "}"
    if _ENV_REF.fullmatch(value):
        return value
    raise InitError(
        f"{connection}.{key} is a secret: it is never written in the client file; give the name of the "
        f"environment variable that holds it, as ${{NAME}} (e.g. ${{{env_name(client, connection, key.split('.')[-1])}}})"
    )


def _typed(value: str) -> Any:
    """``true``/``false`` and whole numbers as YAML would read them; everything else as text."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return int(value) if value.isdigit() else value


def _put(block: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        block = block.setdefault(part, {})
    block[path[-1]] = value


def env_refs(data: Any) -> list[str]:
    """Every ``${NAME}`` the data references, in order of first use."""
    found: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            for m in _ENV_REF.finditer(value):
                found.setdefault(m.group(1))

    walk(data)
    return list(found)


def connections_from(path: Path) -> dict[str, Any]:
    """The ``connections`` of an existing client file as written (``${NAME}`` references kept)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InitError(f"{path}: cannot read its connections: {exc}") from exc
    blocks = data.get("connections") if isinstance(data, dict) else None
    if not isinstance(blocks, dict) or not blocks:
        raise InitError(f"{path}: it has no connections to copy")
    return blocks


def client_text(
    client: str, state: str, connections: Mapping[str, Any], rules: list[dict[str, Any]], env_file: str
) -> str:
    """The client file: a header saying how it was made and what to do next, then its YAML."""
    body = {"client": client, "state": state, "connections": dict(connections), "rules": rules}
    header = (
        f"# {client}'s client file, written by `campaign-bridge init` on {datetime.now(UTC):%Y-%m-%d}.\n"
        f"# Secrets are ${{NAME}} references, never values: set them in the environment ({env_file} lists them;\n"
        f"# load it with: set -a; . {env_file}; set +a). Then: campaign-bridge doctor FILE, plan FILE, sync FILE.\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110)


def env_text(client: str, names: Iterable[str]) -> str:
    """The env-file template: every variable the client file references, with no value."""
    lines = [
        f"# The secrets {client}'s client file names. Fill in the values (never commit them), then load them:",
        "#   set -a; . THIS_FILE; set +a",
    ]
    return "\n".join([*lines, *(f"{name}=" for name in names)]) + "\n"
