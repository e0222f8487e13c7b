"""Load a client file: bytes → YAML (``document``) → ``${ENV}`` secrets → validated, frozen ``ClientConfig``.

Every problem is collected, located (``file:line``) and reported together in one ``ConfigError``:
YAML syntax, unknown keys (with "did you mean"), wrong types, unset environment variables, secrets
written in the file, unknown connections, targets that cannot hold membership, rule cycles. A file that
cannot be read as a document at all (not UTF-8, too large, an alias bomb, a duplicate key) stops at
its first problem, since nothing after it can be trusted. ``ConfigError`` is the only exception raised:
``serve`` keeps its running configuration when a re-read raises it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, SecretStr, ValidationError

from campaign_bridge.config.checks import did_you_mean, invalid_rule_problems, semantic_problems
from campaign_bridge.config.document import Located, Path_, parse_yaml, read_text
from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.connectors.base import ConnectionSettings
from campaign_bridge.connectors.registry import connector_class, connector_types
from campaign_bridge.errors import ConfigError, Problem
from campaign_bridge.mapping.segment import SegmentError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(doc: Located, environ: Mapping[str, str], problems: list[Problem]) -> None:
    def walk(value: Any, path: Path_) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        doc.env_refs.add(path)

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in environ:
                doc.env_values[m.group(0)] = environ[name]
                return environ[name]
            if default is not None:
                return default
            problems.append(doc.problem(path, f"environment variable {name} is not set"))
            return ""

        substituted = _ENV.sub(sub, value)
        if substituted != value and value not in doc.env_values:
            doc.env_values[value] = substituted  # the whole value as written, e.g. "https://${HOST}/x"
        return substituted

    doc.data = walk(doc.data, ())


def _walk(model: type[BaseModel], loc: Path_) -> tuple[Path_, type[BaseModel] | None]:
    """Follow a pydantic error location through the models: the location without the parts that name a
    union's member (a login method's tag, such as ``password``, which may also be one of its keys), and the
    model its last key belongs to (None past a key no model declares): what "did you mean" offers."""
    current: type[BaseModel] | None = model
    holder = current
    keys: list[str | int] = []
    parts = iter(loc)
    for part in parts:
        keys.append(part)
        holder = current
        if isinstance(part, int) or current is None:
            continue  # an item of a list: the list's model goes on
        fields = current.model_fields
        f = {(f.alias or n): f for n, f in fields.items()}.get(part) or fields.get(part)
        if f is None:
            current = None
            continue
        members = [m for m in map(_first_model, get_args(f.annotation)) if m is not None]
        if len(members) < 2:
            current = _first_model(f.annotation)
            continue
        label = next(parts, None)  # pydantic names the member it tried: by its tag, or by its class
        current = next((m for m in members if label == m.__name__ or _tagged(m, label)), None)
    return tuple(keys), holder


def _tagged(model: type[BaseModel], label: object) -> bool:
    return any(label in get_args(f.annotation) for f in model.model_fields.values())


def _first_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in get_args(ann):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _pydantic_problems(exc: ValidationError, doc: Located, model: type[BaseModel], prefix: Path_ = ()) -> list[Problem]:
    out = []
    for err in exc.errors():
        keys, holder = _walk(model, tuple(err["loc"]))
        loc = _data_loc(doc.data, prefix, keys)
        full = (*prefix, *loc)
        where = doc.describe(full)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = [f.alias or n for n, f in holder.model_fields.items()] if holder is not None else []
            msg = f"unknown key '{key}' in {doc.describe(full[:-1]) or 'the file'}{did_you_mean(key, allowed)}"
        elif err["type"] == "missing":
            msg = f"{where}: required key is missing"
            full = full[:-1]
        else:
            msg = f"{where}: {err['msg'].removeprefix('Value error, ')}"
            # Never echo a value from the environment or of a secret field (a token written as a number).
            if err["type"] not in ("value_error", "assertion_error") and "input" in err:
                given = err["input"]
                if not isinstance(given, dict | list) and not doc.hidden((*prefix, *loc)):
                    msg += f" (got {given!r})"
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SegmentError):  # at the line of the condition or value, not of ``from:``
            full = (*full, "segment", *cause.where)
        out.append(doc.problem(full, msg))
    return out


def _data_loc(data: Any, prefix: Path_, loc: Path_) -> Path_:
    """Drop the parts of a pydantic location that are not keys of the data (union tags, validator names)."""
    node = data
    for part in prefix:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    out: list[str | int] = []
    for i, part in enumerate(loc):
        inside_dict = isinstance(node, dict) and part in node
        inside_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if inside_dict or inside_list:
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and isinstance(node, dict):
            out.append(part)  # a missing or extra key: keep it for the message
    return tuple(out)


def _secret_paths(model: type[BaseModel], data: Any, path: Path_) -> Iterable[Path_]:
    """Paths in ``data`` whose model field is a SecretStr."""
    if not isinstance(data, dict):
        return
    for name, f in model.model_fields.items():
        key = f.alias or name
        if key not in data:
            continue
        ann = f.annotation
        if ann is SecretStr or SecretStr in get_args(ann):
            yield (*path, key)
        if _first_model(ann) is not None:
            # a model, or a union of models (a login method): a secret key of any member is refused
            for arg in get_args(ann) or (ann,):
                m = _first_model(arg)
                if m is not None:
                    yield from _secret_paths(m, data[key], (*path, key))


def _validate_connections(doc: Located, problems: list[Problem]) -> dict[str, ConnectionSettings]:
    raw = doc.data.get("connections")  # load_config_text has checked that the file is a mapping
    out: dict[str, ConnectionSettings] = {}
    if raw is None:
        problems.append(doc.problem((), "the file has no 'connections' section"))
        return out
    if not isinstance(raw, dict):
        problems.append(doc.problem(("connections",), "connections: expected a mapping of name → settings"))
        return out
    for name, block in raw.items():
        path: Path_ = ("connections", name)
        if not isinstance(block, dict):
            problems.append(doc.problem(path, f"connection {name!r}: expected a mapping with a 'type'"))
            continue
        type_ = block.get("type")
        try:
            settings_model = connector_class(type_).Settings
        except KeyError:
            known = connector_types()
            problems.append(
                doc.problem(
                    (*path, "type"),
                    f"connection {name!r}: unknown type {type_!r}{did_you_mean(str(type_), known)}"
                    f" (known: {', '.join(known)})",
                )
            )
            continue
        except ImportError as exc:
            problems.append(doc.problem((*path, "type"), f"the {type_} connector cannot be loaded: {exc}"))
            continue
        for secret_path in _secret_paths(settings_model, block, path):
            doc.secret_paths.add(secret_path)
            if secret_path not in doc.env_refs:
                problems.append(
                    doc.problem(
                        secret_path,
                        f"{'.'.join(map(str, secret_path))}: secrets must not be written in the file; "
                        "write ${SOME_NAME} and set SOME_NAME in the environment",
                    )
                )
        try:
            out[name] = settings_model.model_validate(block)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, doc, settings_model, path))
    return out


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> ClientConfig:
    """Read and validate a client file. Raises ``ConfigError`` listing every problem found, and nothing
    else, whatever the file holds (see ``document`` for the limits that make that so)."""
    return load_config_text(read_text(path), str(path), environ)


def load_config_text(text: str, file: str = "<text>", environ: Mapping[str, str] | None = None) -> ClientConfig:
    doc = parse_yaml(text, file)
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the file must be a mapping with client, connections and rules")])
    _interpolate(doc, os.environ if environ is None else environ, problems)
    connections = _validate_connections(doc, problems)
    body = {k: v for k, v in doc.data.items() if k != "rules"}  # connections are validated above
    config: ClientConfig | None = None
    try:
        config = ClientConfig.model_validate({**body, "connections": {}, "path": file})
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, doc, ClientConfig))
    raw_rules = doc.data.get("rules") or []
    rules: list[tuple[int, Rule]] = []
    if not isinstance(raw_rules, list):
        problems.append(doc.problem(("rules",), "rules: expected a list of rules"))
        raw_rules = []
    for i, raw in enumerate(raw_rules):
        try:
            rules.append((i, Rule.model_validate(raw)))
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, doc, Rule, ("rules", i)))
    raw_connections = doc.data.get("connections")
    known = set(raw_connections) if isinstance(raw_connections, dict) else set()
    problems.extend(invalid_rule_problems(raw_rules, {i for i, _ in rules}, doc, known))
    if config is not None:
        lines = {r.name: doc.line(("rules", i)) or 0 for i, r in rules}
        config = config.model_copy(
            update={"connections": connections, "rules": tuple(r for _, r in rules), "rule_lines": lines}
        )
        problems.extend(semantic_problems(config, rules, doc, known_connections=known))
    if problems:
        raise ConfigError(sorted(set(problems), key=lambda p: (p.line or 0, p.message)))
    assert config is not None
    return config
