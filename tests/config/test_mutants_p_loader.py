"""What ``campaign-bridge validate`` tells an admin about a client file, pinned message by message.

The loader (``config/loader.py``) is the product's interface to whoever writes a client file: each
problem is a line number and a sentence, and a secret written in the file is refused at its line without
ever being repeated. These tests load small files with ``load_config_text`` and compare the problems
whole, so a changed word, a wrong line or an echoed secret fails here, in a fraction of a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config, load_config_text
from campaign_bridge.connectors.registry import connector_types
from campaign_bridge.errors import ConfigError, Problem

FILE = "client.yaml"
SECRET_ADVICE = "secrets must not be written in the file; write ${SOME_NAME} and set SOME_NAME in the environment"
MEMORY_PAIR = "client: acme\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\n"
ONE_RULE = MEMORY_PAIR + "rules:\n  - name: one\n"  # the rule's keys start on line 7


def _problems(text: str, environ: dict[str, str] | None = None) -> list[tuple[int | None, str]]:
    """The problems ``validate`` would print for ``text``, as (line, message), in the order printed."""
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, FILE, environ=environ or {})
    assert all(p.file == FILE for p in exc.value.problems)
    return [(p.line, p.message) for p in exc.value.problems]


def _connection(block: str) -> str:
    """A client file whose only connection, ``c`` (line 3), holds ``block`` (indented, from line 4)."""
    return "client: acme\nconnections:\n  c:\n" + block + "rules: []\n"


# Every SecretStr field of every connector's settings, written in plain text: (settings, secret's line,
# its path). Each kind of annotation is here: a plain SecretStr, ``SecretStr | None``, a field of the
# first, second and last member of a discriminated union, and of a nested model that is not a union.
SECRETS_IN_THE_FILE = {
    "salesforce client credentials": (
        "    type: salesforce\n    instance_url: https://acme.my.salesforce.com\n    auth:\n"
        "      method: client_credentials\n      client_id: app\n      client_secret: pw-in-clear\n",
        9,
        "connections.c.auth.client_secret",
    ),
    "salesforce JWT key given inline": (
        "    type: salesforce\n    auth:\n      method: jwt_bearer\n      client_id: app\n"
        "      username: u@acme.com\n      private_key: pw-in-clear\n",
        9,
        "connections.c.auth.private_key",
    ),
    "salesforce password": (
        "    type: salesforce\n    auth:\n      method: password\n      username: u@acme.com\n"
        "      password: pw-in-clear\n",
        8,
        "connections.c.auth.password",
    ),
    "salesforce session": (
        "    type: salesforce\n    instance_url: https://acme.my.salesforce.com\n"
        "    auth: {method: session, session_id: pw-in-clear}\n",
        6,
        "connections.c.auth.session_id",
    ),
    "pardot through its salesforce login": (
        "    type: pardot\n    business_unit_id: 0Uv000000000001AAA\n    auth:\n      method: password\n"
        "      username: u@acme.com\n      password: pw-in-clear\n",
        9,
        "connections.c.auth.password",
    ),
    "hubspot private app": (
        "    type: hubspot\n    auth: {method: private_app, token: pw-in-clear}\n",
        5,
        "connections.c.auth.token",
    ),
    "dynamics client secret": (
        "    type: dynamics\n    url: https://acme.crm4.dynamics.com\n    tenant_id: acme.onmicrosoft.com\n"
        "    auth: {method: client_secret, client_id: app, client_secret: pw-in-clear}\n",
        7,
        "connections.c.auth.client_secret",
    ),
    "dynamics certificate password": (
        "    type: dynamics\n    url: https://acme.crm4.dynamics.com\n    tenant_id: acme.onmicrosoft.com\n"
        "    auth:\n      method: certificate\n      client_id: app\n      private_key_file: /etc/cb/key.pem\n"
        "      thumbprint: 0123456789abcdef0123456789abcdef01234567\n      private_key_password: pw-in-clear\n",
        12,
        "connections.c.auth.private_key_password",
    ),
    "marketo": (
        "    type: marketo\n    base_url: https://123-abc-456.mktorest.com\n"
        "    auth: {method: client_credentials, client_id: app, client_secret: pw-in-clear}\n",
        6,
        "connections.c.auth.client_secret",
    ),
}


@pytest.mark.parametrize("case", SECRETS_IN_THE_FILE)
def test_a_secret_written_in_the_file_is_refused_at_its_line_and_never_repeated(case: str) -> None:
    block, line, path = SECRETS_IN_THE_FILE[case]
    text = _connection(block)

    assert _problems(text) == [(line, f"{path}: {SECRET_ADVICE}")]
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, FILE, environ={})
    assert "pw-in-clear" not in str(exc.value)


def test_every_secret_of_a_connection_is_refused_not_only_the_first() -> None:
    text = _connection(
        "    type: hubspot\n    auth:\n      method: oauth\n      client_id: app\n"
        "      client_secret: pw-in-clear\n      refresh_token: also-in-clear\n"
    )
    assert _problems(text) == [
        (8, f"connections.c.auth.client_secret: {SECRET_ADVICE}"),
        (9, f"connections.c.auth.refresh_token: {SECRET_ADVICE}"),
    ]


def test_secrets_are_refused_in_every_connection_of_the_file() -> None:
    text = (
        "client: acme\nconnections:\n"
        "  hs: {type: hubspot, auth: {method: private_app, token: pw-in-clear}}\n"
        "  sf: {type: salesforce, auth: {method: password, username: u@acme.com, password: pw-in-clear,"
        " client_id: app, client_secret: also-in-clear}}\n"
        "rules: []\n"
    )
    assert _problems(text) == [
        (3, f"connections.hs.auth.token: {SECRET_ADVICE}"),
        (4, f"connections.sf.auth.client_secret: {SECRET_ADVICE}"),
        (4, f"connections.sf.auth.password: {SECRET_ADVICE}"),
    ]


def test_a_secret_written_as_a_number_is_refused_without_echoing_it() -> None:
    text = _connection("    type: hubspot\n    auth: {method: private_app, token: 31415926}\n")
    assert _problems(text) == [
        (5, "connections.c.auth.token: Input should be a valid string"),
        (5, f"connections.c.auth.token: {SECRET_ADVICE}"),
    ]


def test_secrets_from_the_environment_load_into_the_connections() -> None:
    text = _connection(
        "    type: salesforce\n    auth:\n      method: password\n      username: u@acme.com\n"
        "      password: ${SF_PASSWORD}\n      client_id: app\n      client_secret: ${SF_APP_SECRET}\n"
    )
    config = load_config_text(text, FILE, environ={"SF_PASSWORD": "hunter2", "SF_APP_SECRET": "s3"})
    auth = config.connections["c"].model_dump()["auth"]
    assert auth["password"].get_secret_value() == "hunter2"
    assert auth["client_secret"].get_secret_value() == "s3"


def test_load_config_reads_secrets_from_the_environment_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HS_TOKEN", raising=False)
    path = tmp_path / FILE
    path.write_text(_connection("    type: hubspot\n    auth: {method: private_app, token: '${HS_TOKEN}'}\n"))

    config = load_config(path, environ={"HS_TOKEN": "pat-na1-123"})

    assert config.connections["c"].model_dump()["auth"]["token"].get_secret_value() == "pat-na1-123"
    assert config.path == str(path)


# --- the connections section -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        pytest.param("client: acme\nrules: []\n", [(1, "the file has no 'connections' section")], id="missing"),
        pytest.param(
            "client: acme\nrules: []\nconnections: [crm, ma]\n",
            [(3, "connections: expected a mapping of name → settings")],
            id="a list",
        ),
    ],
)
def test_a_file_without_a_mapping_of_connections_is_told_so(text: str, problems: list[tuple[int, str]]) -> None:
    assert _problems(text) == problems


def test_each_bad_connection_is_reported_at_its_own_line() -> None:
    text = (
        "client: acme\nconnections:\n"
        "  first: memory-crm\n"  # 3: not a mapping
        "  second:\n    store: v1\n    type: memroy-crm\n"  # 6: the type, not the name's line
        "  third: {type: memory-ma, stroe: v1}\n"  # 7: still checked after the two above
        "rules: []\n"
    )
    known = connector_types()
    assert _problems(text) == [
        (3, "connection 'first': expected a mapping with a 'type'"),
        (6, f"connection 'second': unknown type 'memroy-crm'; did you mean 'memory-crm'? (known: {', '.join(known)})"),
        (7, "unknown key 'stroe' in connections.third; did you mean 'store'?"),
    ]


def test_a_connector_that_cannot_be_imported_is_named_at_its_type(monkeypatch: pytest.MonkeyPatch) -> None:
    # As when the connector's vendor library is not installed: importing its package fails.
    monkeypatch.setitem(sys.modules, "campaign_bridge.connectors.memory", None)
    text = "client: acme\nconnections:\n  crm:\n    store: v1\n    type: memory-crm\n  hs: {type: hubspot}\nrules: []\n"

    problems = _problems(text)

    assert [line for line, _ in problems] == [5, 6]
    assert problems[0][1].startswith("the memory-crm connector cannot be loaded: ")
    assert "campaign_bridge.connectors.memory" in problems[0][1]
    assert problems[1][1] == "connections.hs.auth: required key is missing"


# --- the file as a whole -----------------------------------------------------------------------------


def test_a_file_that_is_not_a_mapping_is_told_what_it_must_hold() -> None:
    assert _problems("- client: acme\n") == [(1, "the file must be a mapping with client, connections and rules")]


def test_rules_that_are_not_a_list_are_refused_at_their_line() -> None:
    assert _problems(MEMORY_PAIR + "rules: {name: one}\n") == [(5, "rules: expected a list of rules")]


def test_text_loaded_without_a_file_name_is_reported_as_text() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config_text("client: acme\nrules: []\n", environ={})
    assert exc.value.problems == (Problem("<text>", 1, "the file has no 'connections' section"),)


def test_problems_are_listed_by_line_not_by_message() -> None:
    text = (
        "client: acme\nconnections:\n"
        "  crm: {type: memory-crm, stroe: v1}\n"  # 3: "unknown key …"
        "  hs:\n    type: hubspot\n"  # 5: "connections.hs.auth: …", before "unknown" by message
        "rules: []\n"
    )
    assert _problems(text) == [
        (3, "unknown key 'stroe' in connections.crm; did you mean 'store'?"),
        (4, "connections.hs.auth: required key is missing"),
    ]


# --- ${ENV} references -------------------------------------------------------------------------------


def test_a_value_from_the_environment_is_quoted_as_the_file_wrote_it() -> None:
    text = ONE_RULE + (
        "    from: {connection: crm, campaign: Webinar}\n"
        "    to: {connection: '${MA_NAME}', list: Nurture}\n"
        "  - name: two\n"
        "    from: {connection: crm, campaign: Webinar}\n"
        "    to: {connection: 'm${SUFFIX}', list: Nurture}\n"
    )
    problems = _problems(text, {"MA_NAME": "mma", "SUFFIX": "aa"})
    assert problems == [
        (8, "unknown connection '${MA_NAME}'; did you mean 'ma'?"),
        (11, "unknown connection 'm${SUFFIX}'; did you mean 'ma'?"),
    ]


def test_an_unset_variable_is_named_and_its_value_read_as_empty() -> None:
    text = "client: ${CLIENT}\nconnections:\n  crm: {type: memory-crm}\nrules: []\n"
    assert _problems(text) == [
        (1, "client: String should have at least 1 character"),
        (1, "environment variable CLIENT is not set"),
    ]


# --- unknown keys, missing keys, wrong values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        pytest.param(
            "    from: {connection: crm, campaign: W, segmnt: {}}\n    to: {connection: ma, list: L}\n",
            7,
            "unknown key 'segmnt' in rule 'one' from; did you mean 'segment'?",
            id="under an aliased key",
        ),
        pytest.param(
            "    source: {connection: crm, campaign: W, segmnt: {}}\n    to: {connection: ma, list: L}\n",
            7,
            "unknown key 'segmnt' in rule 'one' source; did you mean 'segment'?",
            id="under a key written by its name",
        ),
        pytest.param(
            "    from: {connection: crm, campaign: W}\n    to: {connection: ma, list: L}\n    schedule: {evry: 5m}\n",
            9,
            "unknown key 'evry' in rule 'one' schedule; did you mean 'every'?",
            id="under an optional model",
        ),
    ],
)
def test_a_misspelt_key_in_a_rule_gets_the_nearest_key_of_its_own_section(lines: str, line: int, message: str) -> None:
    assert _problems(ONE_RULE + lines) == [(line, message)]


def test_a_misspelt_key_deep_in_the_file_gets_the_nearest_key_of_its_own_section() -> None:
    text = MEMORY_PAIR + "defaults:\n  safety: {max_removal: 3}\nrules: []\n"
    assert _problems(text) == [(6, "unknown key 'max_removal' in defaults.safety; did you mean 'max_removals'?")]


def test_a_misspelt_key_of_a_connections_login_gets_the_nearest_login_key() -> None:
    text = _connection("    type: hubspot\n    auth: {method: private_app, tokn: x}\n")
    assert _problems(text) == [
        (5, "connections.c.auth.token: required key is missing"),
        (5, "unknown key 'tokn' in connections.c.auth; did you mean 'token'?"),
    ]


def test_a_misspelt_top_level_key_is_unknown_in_the_file() -> None:
    text = "clinet: acme\nconnections:\n  crm: {type: memory-crm}\nrules: []\n"
    assert _problems(text) == [
        (1, "client: required key is missing"),
        (1, "unknown key 'clinet' in the file; did you mean 'client'?"),
    ]


def test_a_missing_key_is_reported_at_the_section_that_lacks_it() -> None:
    text = _connection(
        "    type: hubspot\n    auth:\n      method: oauth\n      client_id: app\n      client_secret: '${S}'\n"
    )
    assert _problems(text, {"S": "s3"}) == [(5, "connections.c.auth.refresh_token: required key is missing")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            "    match: {by: [phone]}\n", "rule 'one' match.by.0: Input should be 'email' (got 'phone')", id="list item"
        ),
        pytest.param(
            "    priority: high\n",
            "rule 'one' priority: Input should be a valid integer, unable to parse string as an integer (got 'high')",
            id="wrong type",
        ),
        pytest.param(
            "    schedule: {every: 5x}\n",
            "rule 'one' schedule.every: '5x' is not a duration; write e.g. 30s, 5m, 2h, 1d or 1w",
            id="a validator's own words",
        ),
    ],
)
def test_a_wrong_value_is_explained_at_its_line(line: str, message: str) -> None:
    text = ONE_RULE + "    from: {connection: crm, campaign: W}\n    to: {connection: ma, list: L}\n" + line
    assert _problems(text) == [(9, message)]


# A login block is one of several methods, told apart by ``method``; pydantic names the method it tried in
# the error's location, and a method's name can also be one of its keys (Salesforce ``password``).
LOGIN_MISTAKES = {
    "a misspelt key of the password method": (
        "    type: salesforce\n    instance_url: https://acme.my.salesforce.com\n    auth:\n"
        "      method: password\n      usernam: u\n      password: ${S}\n      security_token: ${T}\n",
        [
            (6, "connections.c.auth.username: required key is missing"),
            (8, "unknown key 'usernam' in connections.c.auth; did you mean 'username'?"),
        ],
    ),
    "an extra key beside the password": (
        "    type: salesforce\n    instance_url: https://acme.my.salesforce.com\n    auth:\n"
        "      method: password\n      username: u\n      password: ${S}\n      security_token: ${T}\n"
        "      extra: 1\n",
        [(11, "unknown key 'extra' in connections.c.auth")],
    ),
    "the password left out": (
        "    type: salesforce\n    instance_url: https://acme.my.salesforce.com\n    auth:\n"
        "      method: password\n      username: u\n      security_token: ${T}\n",
        [(6, "connections.c.auth.password: required key is missing")],
    ),
    "a misspelt key of HubSpot's second method": (
        "    type: hubspot\n    auth:\n      method: oauth\n      client_id: app\n"
        "      client_secret: ${S}\n      refresh_tokn: ${T}\n",
        [
            (5, "connections.c.auth.refresh_token: required key is missing"),
            (9, "unknown key 'refresh_tokn' in connections.c.auth; did you mean 'refresh_token'?"),
        ],
    ),
}


@pytest.mark.parametrize("case", LOGIN_MISTAKES)
def test_a_mistake_in_a_login_block_is_named_by_the_keys_of_its_own_method(case: str) -> None:
    block, problems = LOGIN_MISTAKES[case]
    assert _problems(_connection(block), {"S": "s3cret", "T": "t0ken"}) == problems
