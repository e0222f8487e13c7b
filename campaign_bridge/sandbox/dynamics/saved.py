"""The organisation's saved state: its tables, links, campaign responses and response codes, and the app
registration's ids and secret (the certificate stays in its files). Tokens and rate-limit counters are not kept: a
restart loses them at Microsoft too."""

from __future__ import annotations

from typing import Any

from ..saved import FORMAT
from .sandbox import DynamicsSandbox


def dump_dynamics(sandbox: DynamicsSandbox) -> dict[str, Any]:
    app = sandbox.state.app
    return {
        "format": FORMAT,
        "app": {"tenant": app.tenant, "client_id": app.client_id, "client_secret": app.client_secret},
        "response_codes": [[label, value] for label, value in sandbox.state.response_codes],
        **sandbox.state.snapshot(),
    }


def load_dynamics(sandbox: DynamicsSandbox, data: dict[str, Any]) -> None:
    if data.get("format") != FORMAT or not isinstance(data.get("rows"), dict):
        raise ValueError(f"not a Dynamics sandbox state of format {FORMAT}")
    try:
        app = data["app"]
        sandbox.state.app.tenant = str(app["tenant"])
        sandbox.state.app.client_id = str(app["client_id"])
        sandbox.state.app.client_secret = str(app["client_secret"])
        sandbox.state.restore(data)
        sandbox.state.response_codes = tuple((str(label), int(value)) for label, value in data["response_codes"])
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"Dynamics sandbox state is incomplete: {exc}") from exc
