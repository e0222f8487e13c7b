"""Marketo's bulk extract jobs, leads or activities: create, enqueue, poll until ``Completed``, read the CSV.

The same four calls whatever the size (``/bulk/v1/{leads|activities}/export/…``): ``create.json`` with the
job's filter, ``{exportId}/enqueue.json``, ``{exportId}/status.json`` until it says ``Completed`` (a real
job takes seconds to minutes; the polls back off), ``{exportId}/file.json``. Each file spends the
instance's daily export allowance (500 MB by default): Marketo answers 1029 when it is spent, which the
callers treat as "read the other way" (``QuotaExhaustedError`` naming the export).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, Literal

from campaign_bridge.connectors.marketo.client import MarketoClient
from campaign_bridge.errors import TransientError

#: Seconds between status polls of an export job, growing to the cap.
POLL_FIRST, POLL_CAP = 1.0, 30.0
#: An export still unfinished after this many polls is given up for this run (transient: the next run asks).
MAX_POLLS = 60


def extract(
    client: MarketoClient, connection: str, kind: Literal["leads", "activities"], body: dict[str, Any]
) -> Iterator[dict[str, str]]:
    """The CSV rows of one bulk extract job of ``kind`` created with ``body``."""
    base = f"/bulk/v1/{kind}/export"
    created = client.call("POST", f"{base}/create.json", json=body)
    job = str((created.get("result") or [{}])[0].get("exportId") or "")
    if not job:
        raise TransientError(f"{connection}: Marketo created no export job")
    try:
        client.call("POST", f"{base}/{job}/enqueue.json", first=True)
    except TransientError as exc:
        if "already" not in str(exc):  # an enqueue repeated after a lost answer finds its job queued: go on
            raise
    wait = POLL_FIRST
    for _ in range(MAX_POLLS):
        status = (client.call("GET", f"{base}/{job}/status.json").get("result") or [{}])[0]
        state = status.get("status")
        if state == "Completed":
            break
        if state in ("Failed", "Cancelled"):
            raise TransientError(f"{connection}: Marketo's export job {job} {str(state).lower()}")
        client.sleep(wait)
        wait = min(POLL_CAP, wait * 2)
    else:
        raise TransientError(f"{connection}: Marketo's export job {job} did not finish; the next run asks again")
    text = client.text(f"{base}/{job}/file.json")
    yield from csv.DictReader(io.StringIO(text))
