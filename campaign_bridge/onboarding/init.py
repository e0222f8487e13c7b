"""``campaign-bridge init`` without the questions: from answers to a checked client file and its env template.

``init_client`` writes the rules the chosen recipes give for the connections, checks the whole file as
``validate`` does (the loader, then, for connections whose secrets are set, the live checks after a
listing of each connection), and only then writes ``<client>.yaml`` and ``<client>.env`` beside it. A
file that would not pass ``validate``, or that lacks a recipe asked for (a system without the segment field
it needs), is not written: the problems are returned instead. Connections whose
secrets are not in the environment yet are checked offline only, and named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.registry import build_connector, connector_class
from campaign_bridge.errors import CampaignBridgeError, ConfigError
from campaign_bridge.mapping.model import Container
from campaign_bridge.mapping.semantics import SEMANTICS
from campaign_bridge.onboarding.clientfile import InitError, client_text, env_refs, env_text
from campaign_bridge.onboarding.recipes import RecipeError, Side, Written, recipe

#: A stand-in for a secret not set yet, so the file's shape is checked before its secrets exist.
UNSET = "unset-at-init"


@dataclass(frozen=True, slots=True)
class RecipeChoice:
    """A recipe to write, its parameters, and the connections it reads and writes (None: the first
    connection of the recipe's source or target role)."""

    name: str
    params: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    target: str | None = None


@dataclass(slots=True)
class InitResult:
    client_file: Path
    env_file: Path
    written: bool = False
    rules: list[Written] = field(default_factory=list)
    refused: list[Written] = field(default_factory=list)
    unset: list[str] = field(default_factory=list)
    tested: dict[str, str] = field(default_factory=dict)  # connection → "ok: …" or the error
    problems: list[str] = field(default_factory=list)


def side(connection: str, block: Mapping[str, Any]) -> Side:
    """A recipe's view of one connection block: its system and segment fields."""
    system = str(block.get("type"))
    try:
        fields = connector_class(system).segment_fields
    except (KeyError, ImportError) as exc:
        raise InitError(f"connection {connection!r}: unknown type {system!r}") from exc
    return Side(connection, system, fields)


def write_recipes(blocks: Mapping[str, Mapping[str, Any]], choices: Sequence[RecipeChoice]) -> list[Written]:
    """Each chosen recipe written for its connections (a refusal when it cannot be). Raises
    ``RecipeError`` for wrong parameters or connections."""
    sides = {name: side(name, block) for name, block in blocks.items()}
    written = []
    for choice in choices:
        r = recipe(choice.name)
        source = _pick(sides, choice.source, r.source_role.value, r.name, "source")
        target = _pick(sides, choice.target, r.target_role.value, r.name, "target")
        written.append(r.write(source, target, choice.params))
    return written


def _pick(sides: Mapping[str, Side], named: str | None, role: str, recipe_name: str, what: str) -> Side:
    if named is not None:
        if named not in sides:
            raise RecipeError(f"{recipe_name}: no connection {named!r} (connections: {', '.join(sides)})")
        return sides[named]
    for s in sides.values():
        if SEMANTICS[s.system].role.value == role:
            return s
    raise RecipeError(f"{recipe_name}: its {what} is a {role.upper()} system, and no connection is one")


def init_client(
    directory: Path,
    client: str,
    blocks: Mapping[str, dict[str, Any]],
    choices: Sequence[RecipeChoice] = (),
    *,
    state: str | None = None,
    environ: Mapping[str, str] | None = None,
    force: bool = False,
    test: bool = True,
) -> InitResult:
    """Write ``<client>.yaml`` and ``<client>.env`` in ``directory`` if the file passes ``validate``.

    Raises ``InitError`` when a file is there already (unless ``force``), ``RecipeError`` for wrong
    recipe parameters.
    """
    environ = os.environ if environ is None else environ
    result = InitResult(directory / f"{client}.yaml", directory / f"{client}.env")
    if result.client_file.exists() and not force:
        raise InitError(f"{result.client_file} exists; choose another --client or --dir, or give --force")
    written = write_recipes(blocks, choices)
    result.rules = [w for w in written if w.rule is not None]
    result.refused = [w for w in written if w.rule is None]
    rules = [w.rule for w in result.rules if w.rule is not None]
    if result.refused:  # a rule asked for and not written: nothing is written, the refusal says why
        result.problems = [f"recipe {w.recipe}: {w.refusal}" for w in result.refused]
        return result
    state = state or f"sqlite:///{(directory / 'state' / f'{client}.db').resolve()}"
    text = client_text(client, state, blocks, rules, result.env_file.name)
    names = env_refs(blocks)
    result.unset = [n for n in names if n not in environ]
    try:
        config = load_config_text(text, str(result.client_file), {**{n: UNSET for n in result.unset}, **environ})
    except ConfigError as exc:
        result.problems = [str(p) for p in exc.problems]
        return result
    if test:
        _test(config, blocks, result)
    if result.problems:
        return result
    directory.mkdir(parents=True, exist_ok=True)
    _write_env(result.env_file, client, names)
    result.client_file.write_text(text, encoding="utf-8")  # last: its presence means init finished
    result.written = True
    return result


def _write_env(path: Path, client: str, names: Sequence[str]) -> None:
    """The env-file template; one that exists already (its values filled in, perhaps) keeps every line it
    has, and gains a line for each variable it lacks."""
    if not path.exists():
        path.write_text(env_text(client, names), encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
        have = {line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line and not line.startswith("#")}
        missing = [n for n in names if n not in have]
        if missing:
            path.write_text(text.rstrip("\n") + "\n" + "".join(f"{n}=\n" for n in missing), encoding="utf-8")
    path.chmod(0o600)


def _test(config: Any, blocks: Mapping[str, Mapping[str, Any]], result: InitResult) -> None:
    """List each connection whose secrets are set; with all of them up, run ``validate``'s live checks."""
    from campaign_bridge.sync.live import live_problems

    testable = {name for name, block in blocks.items() if not set(env_refs(block)) & set(result.unset)}
    connectors = {}
    try:
        for name in blocks:
            if name not in testable:
                result.tested[name] = (
                    f"not tested: set {', '.join(n for n in env_refs(blocks[name]) if n in result.unset)}"
                )
                continue
            conn = build_connector(name, config.connections[name])
            connectors[name] = conn
            try:
                count = len(conn.list_containers())
            except CampaignBridgeError as exc:
                result.tested[name] = f"failed: {exc}"
                result.problems.append(f"connection {name!r}: {exc}")
            else:
                result.tested[name] = f"ok: {count} containers visible"
        if len(connectors) == len(blocks) and not result.problems:
            result.problems += [str(p) for p in live_problems(config, connectors, config.rule_lines)]
    finally:
        for conn in connectors.values():
            conn.close()


def visible_containers(
    client: str, blocks: Mapping[str, dict[str, Any]], environ: Mapping[str, str] | None = None
) -> dict[str, list[Container]]:
    """Each connection's containers, for offering their names as answers: one listing per connection whose
    secrets are set; a connection that cannot be asked (or a file that does not load yet) offers none."""
    environ = os.environ if environ is None else environ
    unset = {n: UNSET for n in env_refs(blocks) if n not in environ}
    try:
        text = client_text(client, "sqlite://", blocks, [], f"{client}.env")
        config = load_config_text(text, "<init>", {**unset, **environ})
    except ConfigError:
        return {}
    found: dict[str, list[Container]] = {}
    for name, settings in config.connections.items():
        if set(env_refs(blocks[name])) & set(unset):
            continue
        conn = build_connector(name, settings)
        try:
            found[name] = list(conn.list_containers())
        except CampaignBridgeError:
            continue
        finally:
            conn.close()
    return found
