"""The alert state in the store, on SQLite and PostgreSQL: written, replaced, read back by client and rule."""

from __future__ import annotations

from datetime import UTC, datetime

from campaign_bridge.sync.store.alerts import AlertState
from campaign_bridge.sync.store.store import Store

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_alert_state_is_replaced_in_place_and_read_back_by_client_and_rule(store_url: str) -> None:
    store = Store(store_url)
    try:
        firing = AlertState("acme", "webinar", "failed_runs", "", "503 #", "rule failing\n…", {"a" * 16: "503 #"})
        store.save_alert_state(firing, NOW)
        store.save_alert_state(AlertState("acme", "", "api_allowance", "hs", "over", "API allowance\n…"), NOW)
        store.save_alert_state(AlertState("globex", "webinar", "drift", "", "missing=1"), NOW)

        resolved = AlertState("acme", "webinar", "failed_runs", "", None, "resolved: …", {"a" * 16: ""}, 2, "503")
        store.save_alert_state(resolved, NOW)

        acme = store.alert_states("acme")
        assert set(acme) == {("webinar", "failed_runs", ""), ("", "api_allowance", "hs")}
        row = acme[("webinar", "failed_runs", "")]
        assert (row.fingerprint, row.summary, row.delivered, row.attempts, row.last_error) == (
            None,
            "resolved: …",
            {"a" * 16: ""},
            2,
            "503",
        )
        assert row.updated_at == NOW
        assert set(store.alert_states("acme", rule="webinar")) == {("webinar", "failed_runs", "")}
        assert set(store.alert_states("globex")) == {("webinar", "drift", "")}
    finally:
        store.close()
