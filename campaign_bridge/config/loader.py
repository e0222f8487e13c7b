"""Load a client file: YAML → ``${ENV}`` secrets → validated, frozen ``ClientConfig``.

Every problem is collected, located (``file:line``) and reported together in one ``ConfigError``:
YAML syntax, unknown keys (with "did you mean"), wrong types, unset environment variables, secrets
written in the file, unknown connections, targets that cannot hold membership, rule cycles.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from campaign_bridge.config.checks import did_you_mean, invalid_rule_problems, semantic_problems
from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.connectors.base import ConnectionSettings
from campaign_bridge.connectors.registry import CONNECTOR_TYPES, connector_class
from campaign_bridge.errors import ConfigError, Problem

Path_ = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Located:
    """A parsed YAML document and the line of every key and item in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    env_refs: set[Path_] = field(default_factory=set)

    def line(self, path: Iterable[str | int]) -> int | None:
        """The line of ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)

    def describe(self, path: Path_) -> str:
        """A readable name for a location: ``rule 'x' from.campaign`` rather than ``rules.0.from.campaign``."""
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = self.data.get("rules") if isinstance(self.data, dict) else None
            raw = rules[path[1]] if isinstance(rules, list) and path[1] < len(rules) else None
            name = raw.get("name") if isinstance(raw, dict) else None
            head = f"rule {name!r}" if isinstance(name, str) else f"rule #{path[1] + 1}"
            rest = ".".join(str(p) for p in path[2:])
            return f"{head} {rest}".strip()
        return ".".join(str(p) for p in path)

    def problem(self, path: Iterable[str | int], message: str) -> Problem:
        return Problem(self.file, self.line(path), message)


def _construct(node: yaml.Node, path: Path_, doc: Located) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = (
                yaml.safe_load(yaml.serialize(key_node))
                if not isinstance(key_node, yaml.ScalarNode)
                else key_node.value
            )
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), doc) for i, item in enumerate(node.value)]
    # Scalars: PyYAML's safe constructor decides the type (int, bool, null…) as usual. An empty value
    # (``rules:`` with nothing after it) is null, not a parse error.
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # e.g. `!!int x`, a date like 2026-13-45
        line = node.start_mark.line + 1
        what = getattr(exc, "problem", None) or exc
        raise ConfigError([Problem(doc.file, line, f"YAML value {node.value!r} cannot be read: {what}")]) from None


def parse_yaml(text: str, file: str) -> Located:
    """Parse YAML keeping lines; ``ConfigError`` with the line of a syntax error."""
    doc = Located(file, None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([Problem(file, line, f"YAML syntax: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, None, f"YAML syntax: {exc}")]) from None
    doc.data = {} if node is None else _construct(node, (), doc)
    return doc


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
                return environ[name]
            if default is not None:
                return default
            problems.append(doc.problem(path, f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(sub, value)

    doc.data = walk(doc.data, ())


def _model_keys(model: type[BaseModel], loc: Path_) -> list[str]:
    """The keys allowed where ``loc`` points, walking nested models (for "did you mean")."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        by_alias = {(f.alias or n): f for n, f in fields.items()}
        f = by_alias.get(str(part)) or fields.get(str(part))
        if f is None:
            current = None
            break
        ann = f.annotation
        current = _first_model(ann)
    fields = getattr(current, "model_fields", None) if current is not None else None
    return [f.alias or n for n, f in fields.items()] if fields else []


def _first_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _pydantic_problems(exc: ValidationError, doc: Located, model: type[BaseModel], prefix: Path_ = ()) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = _data_loc(doc.data, prefix, tuple(err["loc"]))
        full = (*prefix, *loc)
        where = doc.describe(full)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = _model_keys(model, loc[:-1])
            msg = f"unknown key '{key}' in {doc.describe(full[:-1]) or 'the file'}{did_you_mean(key, allowed)}"
        elif err["type"] == "missing":
            msg = f"{where}: required key is missing"
            full = full[:-1]
        else:
            msg = f"{where}: {err['msg'].removeprefix('Value error, ')}"
            if err["type"] not in ("value_error", "assertion_error") and "input" in err:
                given = err["input"]
                if not isinstance(given, dict | list) and (*prefix, *loc) not in doc.env_refs:
                    msg += f" (got {given!r})"
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
        if ann is SecretStr or SecretStr in (getattr(ann, "__args__", ()) or ()):
            yield (*path, key)
        sub = _first_model(ann)
        if sub is not None:
            # a discriminated union: find the member whose literal tag matches
            for arg in getattr(ann, "__args__", ()) or (ann,):
                m = _first_model(arg)
                if m is not None:
                    yield from _secret_paths(m, data[key], (*path, key))
            if not getattr(ann, "__args__", None):
                yield from _secret_paths(sub, data[key], (*path, key))


def _validate_connections(doc: Located, problems: list[Problem]) -> dict[str, ConnectionSettings]:
    raw = doc.data.get("connections") if isinstance(doc.data, dict) else None
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
        if type_ not in CONNECTOR_TYPES:
            problems.append(
                doc.problem(
                    (*path, "type"),
                    f"connection {name!r}: unknown type {type_!r}{did_you_mean(str(type_), CONNECTOR_TYPES)}"
                    f" (known: {', '.join(CONNECTOR_TYPES)})",
                )
            )
            continue
        try:
            settings_model = connector_class(type_).Settings
        except ImportError as exc:
            problems.append(doc.problem((*path, "type"), f"the {type_} connector cannot be loaded: {exc}"))
            continue
        for secret_path in _secret_paths(settings_model, block, path):
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
    """Read and validate a client file. Raises ``ConfigError`` listing every problem found."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(file, None, f"cannot read the file: {exc.strerror}")]) from None
    return load_config_text(text, file, environ)


def load_config_text(text: str, file: str = "<text>", environ: Mapping[str, str] | None = None) -> ClientConfig:
    doc = parse_yaml(text, file)
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the file must be a mapping with client, connections and rules")])
    _interpolate(doc, os.environ if environ is None else environ, problems)
    connections = _validate_connections(doc, problems)
    body = {k: v for k, v in doc.data.items() if k not in ("connections", "rules")}
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
