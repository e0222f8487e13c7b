"""Alerts: tell a person when something needs one, through Apprise, once per change.

conditions.py  what needs a person, judged after each run (failed runs in a row, a held plan, dead letters
               grown, the API allowance crossed, drift, a dead worker's lease taken over)
notifier.py    record each alert in the state store and deliver what each target has not been told;
               ``AlertDispatcher``: the thread ``serve`` delivers on, so no run waits for a delivery
delivery.py    one notice to one Apprise target
redact.py      every secret of the client file kept out of alerts, log lines and the state store

The client file's ``alerts:`` section is ``config/alerts.py``; the state is ``sync/store/alerts.py``.
``serve`` hands each finished run to the alerts (``service/service.py``); docs/alerts.md explains them.
"""

from __future__ import annotations

from campaign_bridge.alerts.conditions import AlertKind, Condition, Observation
from campaign_bridge.alerts.notifier import AlertDispatcher, Delivery, Notifier, send_test

__all__ = ["AlertDispatcher", "AlertKind", "Condition", "Delivery", "Notifier", "Observation", "send_test"]
