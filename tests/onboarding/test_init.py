"""``campaign-bridge init``, unattended and interactive, and the onboarding path the issue asks for: on the
demo, ``discover``, ``init --recipe …`` and ``doctor`` give a second client file that runs, with no YAML
edited by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.onboarding.conftest import Site


def _flags(site: Site) -> list[str]:
    """Every answer for the demo's two sandboxes as flags, the secrets named by the demo's variables."""
    info = site.info()
    sf, hs = info["salesforce"], info["hubspot"]
    return [
        "--connection", "sf=salesforce",
        "--set", f"sf.instance_url={sf['instance_url']}",
        "--set", f"sf.login_url={sf['login_url']}",
        "--set", f"sf.ca_bundle={Path(sf['ca_bundle']).resolve()}",
        "--set", "sf.auth.method=client_credentials",
        "--set", f"sf.auth.client_id={sf['auth']['client_credentials']['client_id']}",
        "--set", "sf.auth.client_secret=${CB_DEMO_SF_CLIENT_SECRET}",
        "--connection", "hs=hubspot",
        "--set", f"hs.base_url={hs['base_url']}",
        "--set", "hs.auth.method=private_app",
        "--set", "hs.auth.token=${CB_DEMO_HS_TOKEN}",
    ]  # fmt: skip


def _members(site: Site, campaign: str) -> dict[str, str]:
    org = site.sandboxes.get("salesforce", SalesforceSandbox).state
    [campaign_id] = [i for i, c in org.tables["Campaign"].items() if c["Name"] == campaign]
    out = {}
    for person, status in org.members(campaign_id).items():
        record = org.get(person)
        assert record is not None
        out[record["Email"]] = status
    return out


def test_unattended_init_writes_secrets_as_references_and_an_env_template(site: Site, tmp_path: Path) -> None:
    result = site.run(
        "init", "--no-input", "--client", "acme", "--dir", str(tmp_path), *_flags(site),
        "--recipe", "bounces-to-email-health",
        "--param", "bounces-to-email-health.to=Email health 2026",
        "--param", "bounces-to-email-health.status=Bounced",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "connection sf: ok: 5 containers visible" in result.stdout
    text = (tmp_path / "acme.yaml").read_text()
    for secret in site.environ.values():
        assert secret not in text
    data = yaml.safe_load(text)
    assert data["connections"]["sf"]["auth"]["client_secret"] == "${CB_DEMO_SF_CLIENT_SECRET}"
    assert data["connections"]["hs"]["auth"] == {"method": "private_app", "token": "${CB_DEMO_HS_TOKEN}"}
    env = (tmp_path / "acme.env").read_text()
    assert "CB_DEMO_SF_CLIENT_SECRET=\n" in env
    assert "CB_DEMO_HS_TOKEN=\n" in env
    assert (tmp_path / "acme.env").stat().st_mode & 0o077 == 0
    validate = site.run("validate", str(tmp_path / "acme.yaml"))
    assert validate.exit_code == 0, validate.output


def test_a_secret_nobody_named_gets_a_variable_named_after_the_client_and_is_not_tested(
    site: Site, tmp_path: Path
) -> None:
    flags = _flags(site)[:-2]  # every answer but the token's variable
    result = site.run("init", "--no-input", "--client", "beta", "--dir", str(tmp_path), *flags)
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "beta.yaml").read_text())
    assert data["connections"]["hs"]["auth"]["token"] == "${BETA_HS_TOKEN}"
    assert "connection hs: not tested: set BETA_HS_TOKEN" in result.stdout
    assert "set these before running it: BETA_HS_TOKEN" in result.stdout


def test_a_literal_secret_is_refused_and_nothing_is_written(site: Site, tmp_path: Path) -> None:
    flags = [f.replace("${CB_DEMO_HS_TOKEN}", "pat-na1-literal") for f in _flags(site)]
    result = site.run("init", "--no-input", "--client", "acme", "--dir", str(tmp_path), *flags)
    assert result.exit_code == 2
    assert "hs.auth.token is a secret: it is never written in the client file" in result.output
    assert "pat-na1-literal" not in result.output
    assert not list(tmp_path.iterdir())


def test_missing_answers_are_named_with_their_flags(site: Site, tmp_path: Path) -> None:
    result = site.run(
        "init", "--no-input", "--client", "acme", "--dir", str(tmp_path),
        "--connection", "hs=hubspot", "--set", "hs.auth.method=oauth",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "give --set hs.auth.client_id=…" in result.output
    no_client = site.run("init", "--no-input", "--dir", str(tmp_path))
    assert no_client.exit_code == 2
    assert "client name is needed: give --client" in no_client.output


def test_a_recipe_a_system_cannot_serve_or_a_missing_container_writes_nothing(site: Site, tmp_path: Path) -> None:
    refused = site.run(
        "init", "--no-input", "--client", "acme", "--dir", str(tmp_path), *_flags(site),
        "--recipe", "crm-data-to-ma", "--param", "field=last_purchase_at", "--param", "to=Webinar Q4 nurture",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "recipe crm-data-to-ma: salesforce has no segment field last_purchase_at" in refused.stdout
    missing = site.run(
        "init", "--no-input", "--client", "acme", "--dir", str(tmp_path), *_flags(site),
        "--recipe", "inactive-to-winback", "--param", "to=Win back 2026", "--param", "status=Gone quiet",
    )  # fmt: skip
    assert missing.exit_code == 2
    assert "no campaign named 'Win back 2026'; did you mean 'Win-back 2026'" in missing.stdout
    assert not (tmp_path / "acme.yaml").exists()


def test_an_existing_file_is_kept_unless_forced_and_filled_secrets_are_never_overwritten(
    site: Site, tmp_path: Path
) -> None:
    (tmp_path / "acme.yaml").write_text("# mine\n")
    (tmp_path / "acme.env").write_text("CB_DEMO_SF_CLIENT_SECRET=filled-in\n")
    args = ["init", "--no-input", "--client", "acme", "--dir", str(tmp_path), *_flags(site)]
    kept = site.run(*args)
    assert kept.exit_code == 2
    assert (tmp_path / "acme.yaml").read_text() == "# mine\n"
    assert site.run(*args, "--force").exit_code == 0
    assert (tmp_path / "acme.env").read_text() == "CB_DEMO_SF_CLIENT_SECRET=filled-in\nCB_DEMO_HS_TOKEN=\n"


def test_interactive_init_asks_what_the_flags_do_not_give(site: Site, tmp_path: Path) -> None:
    info = site.info()
    sf, hs = info["salesforce"], info["hubspot"]
    answers = [
        "gamma",  # client name
        "salesforce",  # CRM system
        "sf",  # its connection name
        sf["instance_url"],
        sf["login_url"],
        "client_credentials",
        sf["auth"]["client_credentials"]["client_id"],
        "${CB_DEMO_SF_CLIENT_SECRET}",
        "hubspot",  # MA system
        "hs",
        hs["base_url"],
        "private_app",
        "",  # the token's variable: the default, GAMMA_HS_TOKEN
        "y",  # event-to-nurture: the first recipe offered
        "Webinar 2026-Q4",
        "",  # statuses: Registered,Attended
        "Webinar Q4 nurture",
        *["n"] * 6,  # no other recipe
    ]
    ca = f"sf.ca_bundle={Path(sf['ca_bundle']).resolve()}"
    result = site.run("init", "--dir", str(tmp_path), "--set", ca, input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    # Names are offered from what Salesforce lists (HubSpot's token variable is not set yet).
    assert "from: one of Email engagement 2026, Email health 2026, Pricing interest 2026" in result.output
    assert "statuses: one of Invited, Registered, Attended" in result.output
    data: dict[str, Any] = yaml.safe_load((tmp_path / "gamma.yaml").read_text())
    assert data["connections"]["hs"]["auth"]["token"] == "${GAMMA_HS_TOKEN}"
    assert data["rules"] == [
        {
            "name": "event-to-nurture",
            "from": {"connection": "sf", "campaign": "Webinar 2026-Q4", "member_status": ["Registered", "Attended"]},
            "to": {"connection": "hs", "list": "Webinar Q4 nurture"},
            "mode": "mirror",
        }
    ]


def test_the_demo_onboarding_path_gives_a_second_client_file_that_runs(site: Site, tmp_path: Path) -> None:
    discovered = site.run("discover", str(site.config))
    assert discovered.exit_code == 0, discovered.output
    assert "Win-back 2026" in discovered.stdout
    init = site.run(
        "init", "--no-input", "--client", "second", "--dir", str(tmp_path),
        "--connections-from", str(site.config),
        "--recipe", "score-to-sales-ready",
        "--param", "score-to-sales-ready.to=Pricing interest 2026", "--param", "score-to-sales-ready.status=Responded",
        "--recipe", "inactive-to-winback",
        "--param", "inactive-to-winback.to=Win-back 2026", "--param", "inactive-to-winback.status=Gone quiet",
    )  # fmt: skip
    assert init.exit_code == 0, init.output
    second = str(tmp_path / "second.yaml")
    doctor = site.run("doctor", second)
    assert doctor.exit_code == 0, doctor.output
    assert "no problems" in doctor.stdout
    synced = site.run("sync", second)
    assert synced.exit_code == 0, synced.output
    # Score ≥ 50 in HubSpot: Ada (80) and Linus (55), Linus as the Contact (prefer contact); no activity in
    # 60 days: Quinn.
    assert {"ada@northwind.example", "linus@initech.example"} <= set(_members(site, "Pricing interest 2026"))
    assert _members(site, "Win-back 2026")["quiet@litware.example"] == "Gone quiet"


def test_no_test_checks_the_file_offline_only(site: Site, tmp_path: Path) -> None:
    result = site.run("init", "--no-input", "--no-test", "--client", "delta", "--dir", str(tmp_path), *_flags(site))
    assert result.exit_code == 0, result.output
    assert "connection sf:" not in result.stdout  # nothing was asked of the systems
    assert (tmp_path / "delta.yaml").exists()
