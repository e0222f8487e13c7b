"""Onboarding commands: ``discover``, ``init``, ``doctor`` and ``recipes`` (``campaign_bridge/onboarding``).

Exit codes: 0 done (``doctor``: no problem); 1 a connection could not be asked (``discover``) or a problem
was found (``doctor``); 2 the client file, an answer or a recipe parameter is wrong (nothing written).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from campaign_bridge.cli.options import json_opt
from campaign_bridge.cli.output import err, out, print_json
from campaign_bridge.cli.running import EXIT_CONFIG, EXIT_FAILED, load_or_exit
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.registry import build_connector, connector_types
from campaign_bridge.errors import CampaignBridgeError, ConfigError
from campaign_bridge.mapping.model import Container
from campaign_bridge.mapping.semantics import SEMANTICS, Role
from campaign_bridge.onboarding.clientfile import InitError, connection_block, connections_from, env_name, questions
from campaign_bridge.onboarding.init import RecipeChoice, init_client, side, visible_containers, write_recipes
from campaign_bridge.onboarding.recipes import RECIPES, RecipeError, Side, applicability, recipe

set_opt = click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="CONN.KEY=VALUE",
    help="A connection setting (repeatable): sf.instance_url=https://…, sf.auth.method=client_credentials; "
    "a secret as the variable that holds it: sf.auth.client_secret='${SF_SECRET}'.",
)
recipe_opt = click.option(
    "--recipe", "recipes", multiple=True, metavar="NAME", help="Add this recipe's rule (repeatable)."
)
param_opt = click.option(
    "--param",
    "params",
    multiple=True,
    metavar="[RECIPE.]KEY=VALUE",
    help="A recipe parameter (repeatable); RECIPE.source / RECIPE.target pick its connections.",
)


def _pairs(values: Sequence[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r}: write {what}", param_hint=what)
        pairs.append((key.strip(), rest))
    return pairs


def _recipe_choices(names: Sequence[str], params: Sequence[str]) -> list[RecipeChoice]:
    """``--recipe`` with its ``--param``s: ``RECIPE.KEY=V`` for that recipe, ``KEY=V`` for every recipe."""
    shared: dict[str, str] = {}
    own: dict[str, dict[str, str]] = {}
    for key, value in _pairs(params, "[RECIPE.]KEY=VALUE"):
        name, dot, sub = key.rpartition(".")
        if dot and name in RECIPES:
            own.setdefault(name, {})[sub] = value
        else:
            shared[key] = value
    choices = []
    for name in names:
        recipe(name)  # an unknown name fails here, naming the recipes
        taken = {p.name for p in RECIPES[name].params} | {"name"}
        values = {k: v for k, v in shared.items() if k in taken} | own.get(name, {})
        source, target = values.pop("source", None), values.pop("target", None)
        choices.append(RecipeChoice(name, values, source, target))
    return choices


def _connectors(config: ClientConfig) -> dict[str, Connector]:
    """One connector per connection; one that cannot even be built (a key file missing) is exit 1."""
    built: dict[str, Connector] = {}
    for name, settings in config.connections.items():
        try:
            built[name] = build_connector(name, settings)
        except CampaignBridgeError as exc:
            _close(built)
            click.echo(f"{config.path}: connection {name!r}: {exc}", err=True)
            raise SystemExit(EXIT_FAILED) from None
    return built


def _close(connectors: Mapping[str, Connector]) -> None:
    for conn in connectors.values():
        conn.close()


# -- discover ---------------------------------------------------------------------------------------------


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.argument("connection", required=False)
@json_opt
def discover(config_file: str, connection: str | None, as_json: bool) -> None:
    """What each connection can see: containers with members and statuses, which can be a rule's source or
    target and why, the segment fields, and the API calls that cost."""
    from campaign_bridge.cli.onboarding_tables import print_discovery
    from campaign_bridge.onboarding.discover import discover as discover_all

    config = load_or_exit(config_file)
    if connection is not None and connection not in config.connections:
        click.echo(f"{config_file}: no connection {connection!r} (it has {', '.join(config.connections)})", err=True)
        raise SystemExit(EXIT_CONFIG)
    connectors = _connectors(config)
    try:
        views = discover_all(connectors, connection)
    finally:
        _close(connectors)
    if as_json:
        print_json([v.as_json() for v in views])
    else:
        print_discovery(views)
    raise SystemExit(EXIT_FAILED if any(v.error for v in views) else 0)


# -- doctor -----------------------------------------------------------------------------------------------


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@json_opt
def doctor(config_file: str, as_json: bool) -> None:
    """Can this client file run? Credentials, permissions or scopes for each rule, API allowance left,
    clock skew and the state store, each problem with what to do (exit 1 if any)."""
    from campaign_bridge.cli.onboarding_tables import print_findings
    from campaign_bridge.onboarding.doctor import Status, diagnose

    config = load_or_exit(config_file)
    connectors = _connectors(config)
    try:
        findings = diagnose(config, connectors)
    finally:
        _close(connectors)
    if as_json:
        print_json([f.as_json() for f in findings])
    else:
        print_findings(findings)
    raise SystemExit(EXIT_FAILED if any(f.status is Status.PROBLEM for f in findings) else 0)


# -- recipes ----------------------------------------------------------------------------------------------


@click.command("recipes")
@click.argument("config_file", type=click.Path(dir_okay=False), required=False)
@recipe_opt
@param_opt
@click.option("--offline", is_flag=True, help="Check written rules against the file only, not the live systems.")
@json_opt
def recipes_command(
    config_file: str | None, recipes: tuple[str, ...], params: tuple[str, ...], offline: bool, as_json: bool
) -> None:
    """The common rules and the systems they apply to; with FILE, for its connections; with --recipe, the
    rules written for them (checked as validate checks them), ready to paste under rules:."""
    from campaign_bridge.cli.onboarding_tables import print_recipes, print_written

    sides = _file_sides(config_file) if config_file else _every_system()
    if not recipes:
        applies = {
            r.name: {
                f"{s.connection} → {t.connection}": applicability(r, s, t)
                for s, t in _pairs_of(sides, r.source_role, r.target_role)
            }
            for r in RECIPES.values()
        }
        if as_json:
            print_json([_recipe_json(r, applies[r.name]) for r in RECIPES.values()])
        else:
            print_recipes(list(RECIPES.values()), applies)
        return
    if config_file is None:
        raise click.UsageError("give the client FILE whose connections the recipes are written for")
    try:
        written = write_recipes(_file_blocks(config_file), _recipe_choices(recipes, params))
    except (RecipeError, InitError) as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(EXIT_CONFIG) from None
    rules = [w.rule for w in written if w.rule is not None]
    problems = _check_rules(config_file, rules, offline=offline)
    if as_json:
        print_json(
            {
                "rules": rules,
                "refused": [{"recipe": w.recipe, "why": w.refusal} for w in written if w.rule is None],
                "problems": problems,
            }
        )
    else:
        print_written(written, err)  # standard output holds only the rules, ready to paste under rules:
        if rules:
            click.echo(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True, width=110), nl=False)
        for p in problems:
            click.echo(p, err=True)
    raise SystemExit(EXIT_CONFIG if problems or len(rules) < len(written) else 0)


def _recipe_json(r: Any, applies: dict[str, str | None]) -> dict[str, Any]:
    params = [{"name": p.name, "help": p.help, "default": p.default} for p in r.params]
    return {"name": r.name, "title": r.title, "criteria": r.criteria, "params": params, "applies": applies}


def _every_system() -> dict[str, Side]:
    found = {}
    for system in sorted(connector_types(), key=lambda t: (t.startswith("memory"), t)):
        try:
            found[system] = side(system, {"type": system})
        except InitError:
            continue
    return found


def _file_blocks(config_file: str) -> dict[str, Any]:
    load_or_exit(config_file)  # a broken file is reported as validate reports it
    return connections_from(Path(config_file))


def _file_sides(config_file: str) -> dict[str, Side]:
    return {name: side(name, block) for name, block in _file_blocks(config_file).items()}


def _pairs_of(sides: Mapping[str, Side], source: Role, target: Role) -> list[tuple[Side, Side]]:
    return [(s, t) for s in sides.values() for t in sides.values() if s.role is source and t.role is target]


def _check_rules(config_file: str, rules: list[dict[str, Any]], *, offline: bool) -> list[str]:
    """``rules`` added to the client file's, checked as ``validate`` would check the result."""
    from campaign_bridge.config.loader import load_config_text
    from campaign_bridge.sync.live import check_live

    data = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    data["rules"] = [*(data.get("rules") or []), *rules]
    try:
        # Lines are those of the file with the rules appended, as it would read once they are pasted in.
        config = load_config_text(yaml.safe_dump(data, sort_keys=False), f"{config_file} + recipes")
        if not offline:
            check_live(config, config.rule_lines)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    except CampaignBridgeError as exc:
        return [f"{config_file}: cannot check the live systems: {exc}"]
    return []


# -- init -------------------------------------------------------------------------------------------------


@click.command()
@click.option("--client", help="The client's name (letters, digits, . _ -); the file is CLIENT.yaml.")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where CLIENT.yaml and CLIENT.env are written.",
)
@click.option(
    "--connection", "connections", multiple=True, metavar="NAME=TYPE", help="A connection (repeatable): sf=salesforce."
)
@set_opt
@click.option(
    "--connections-from",
    "copy_from",
    type=click.Path(dir_okay=False, exists=True),
    help="Copy the connections of this client file.",
)
@recipe_opt
@param_opt
@click.option("--state", help="The state store's SQLAlchemy URL (default: a SQLite file under DIR/state/).")
@click.option("--no-input", is_flag=True, help="Ask nothing: every answer comes from the flags (unattended).")
@click.option("--no-test", is_flag=True, help="Do not connect to the systems; check the file offline only.")
@click.option("--force", is_flag=True, help="Replace CLIENT.yaml if it exists.")
def init(
    client: str | None,
    directory: str,
    connections: tuple[str, ...],
    settings: tuple[str, ...],
    copy_from: str | None,
    recipes: tuple[str, ...],
    params: tuple[str, ...],
    state: str | None,
    no_input: bool,
    no_test: bool,
    force: bool,
) -> None:
    """Start a client file: the systems and how they authenticate, secrets as ${ENV} references, an env-file
    template beside it, the connections tested, and rules from the recipes. Asks for what the flags do not
    give (none with --no-input)."""
    from campaign_bridge.cli.onboarding_tables import print_init

    ask = not no_input
    try:
        if client is None:
            client = _ask(ask, "client name", "--client")
        blocks = connections_from(Path(copy_from)) if copy_from else {}
        answers: dict[str, dict[str, str]] = {}
        for key, value in _pairs(settings, "CONN.KEY=VALUE"):
            name, dot, field = key.partition(".")
            if not dot:
                raise InitError(f"--set {key}=…: write CONNECTION.SETTING=VALUE")
            answers.setdefault(name, {})[field] = value
        types = dict(_pairs(connections, "NAME=TYPE"))
        asked = ask and not types and not blocks
        for role in (Role.CRM, Role.MA) if asked else ():
            chosen = _ask_system(role)
            if chosen is not None:
                types[chosen[0]] = chosen[1]
                blocks[chosen[0]] = connection_block(
                    client, *chosen, _answer(ask, client, *chosen, answers.get(chosen[0], {}))
                )
        unknown = set(answers) - set(types)
        if unknown:
            raise InitError(f"--set names {', '.join(sorted(unknown))}, which no --connection declares")
        for name, system in types.items():
            if name not in blocks:
                blocks[name] = connection_block(
                    client, name, system, _answer(ask, client, name, system, answers.get(name, {}))
                )
        choices = _recipe_choices(recipes, params)
        if ask and not recipes:
            choices = _offer_recipes(client, blocks)
        result = init_client(Path(directory), client, blocks, choices, state=state, force=force, test=not no_test)
    except (InitError, RecipeError) as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(EXIT_CONFIG) from None
    print_init(result)
    raise SystemExit(0 if result.written else EXIT_CONFIG)


def _ask(ask: bool, what: str, flag: str, **kwargs: Any) -> str:
    if not ask:
        raise InitError(f"{what} is needed: give {flag}")
    return str(click.prompt(what, **kwargs))


def _ask_system(role: Role) -> tuple[str, str] | None:
    """The connection name and system of ``role`` the person chooses; None for none. The memory systems,
    which hold test data only, are offered last."""
    systems = sorted(
        (t for t in connector_types() if SEMANTICS[t].role is role), key=lambda t: (t.startswith("memory"), t)
    )
    system = click.prompt(f"{role.upper()} system", type=click.Choice([*systems, "none"]), default=systems[0])
    if system == "none":
        return None
    return str(click.prompt("its connection name", default=role.value)), str(system)


def _answer(ask: bool, client: str, name: str, system: str, given: dict[str, str]) -> dict[str, str]:
    """``given`` completed by prompts (auth method first: it decides the other questions). Without ``ask``,
    nothing is added: ``connection_block`` names each missing setting with its flag, and writes a secret
    nobody named as its default variable."""
    answers = dict(given)
    if not ask:
        return answers
    for q in questions(system, answers):
        if q.key in answers:
            continue
        if q.choices:
            answers[q.key] = click.prompt(f"{name}: {q.help}", type=click.Choice(q.choices), default=q.choices[0])
            return _answer(ask, client, name, system, answers)
        if q.secret:
            default = "${" + env_name(client, name, q.path[-1]) + "}"
            answers[q.key] = click.prompt(
                f"{name}: {q.key} is a secret: the ${{VARIABLE}} that will hold it", default=default
            )
        else:
            answers[q.key] = click.prompt(f"{name}: {q.help}", default=q.default)
    return answers


def _offer_recipes(client: str, blocks: Mapping[str, Any]) -> list[RecipeChoice]:
    """Each recipe that applies to the connections, offered in turn; its parameters asked, with the
    containers and member statuses the connections hold offered by name where they could be listed."""
    sides = {name: side(name, block) for name, block in blocks.items()}
    listed = visible_containers(client, blocks)
    choices = []
    for r in RECIPES.values():
        for s, t in _pairs_of(sides, r.source_role, r.target_role):
            refusal = applicability(r, s, t)
            if refusal is not None or not click.confirm(
                f"add {r.name} ({r.title}) from {s.connection} to {t.connection}?", default=False
            ):
                continue
            values: dict[str, str] = {}
            for p in r.params:
                offered = _offered(p.name, values, listed.get(s.connection, []), listed.get(t.connection, []))
                if offered:
                    out.print(f"  {p.name}: one of {', '.join(offered)}", markup=False, highlight=False, soft_wrap=True)
                value = click.prompt(f"  {r.name}.{p.name}: {p.help}", default=p.default, show_default=True)
                values[p.name] = str(value)
            choices.append(RecipeChoice(r.name, values, s.connection, t.connection))
    return choices


def _offered(param: str, values: Mapping[str, str], source: list[Container], target: list[Container]) -> list[str]:
    """The names a parameter may take: sources for ``from``, writable targets for ``to``, the chosen
    campaign's member statuses for ``status`` and ``statuses``."""
    if param == "from":
        return [c.name for c in source]
    if param == "to":
        return [c.name for c in target if c.writable]
    if param in ("status", "statuses"):
        named = values.get("from" if param == "statuses" else "to")
        pool = source if param == "statuses" else target
        return [s.label for c in pool if c.name == named for s in c.statuses]
    return []
