"""What each way of reading and writing campaign members costs in API calls, and which one to take.

REST reads cost a call per 2000 rows (``query``/``queryMore``). A Bulk API 2.0 query job costs a create,
at least one poll and a call per results page of 50,000 rows. sObject Collections write 200 records a
call. A Bulk API 2.0 ingest job costs a create, an upload, a close and at least one poll, whatever its
size: the poll's job info counts the rows processed and failed, so the failed rows are downloaded only
when there are some.

``BulkChoice`` applies the connection's ``bulk_threshold``: ``"auto"`` (the default) takes Bulk whenever it
costs fewer calls; a number pins the switch above that many changes or members.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Literal

#: Rows per REST query page.
REST_PAGE_ROWS = 2000
#: Rows per results page of a query job, as the connector asks (``maxRecords``).
QUERY_JOB_PAGE_ROWS = 50_000
#: A query job before its results: create, one poll.
QUERY_JOB_FIXED_CALLS = 2
#: Records per sObject Collections call.
COLLECTION_RECORDS = 200
#: An ingest job in which no row fails: create, upload, close, one poll.
INGEST_JOB_CALLS = 4

AUTO: Literal["auto"] = "auto"


def rest_read_calls(rows: int) -> int:
    """Calls to read ``rows`` rows by REST (an empty answer is still one call)."""
    return max(1, ceil(rows / REST_PAGE_ROWS))


def query_job_calls(rows: int) -> int:
    """Calls of one query job answering ``rows`` rows (at least one results page)."""
    return QUERY_JOB_FIXED_CALLS + max(1, ceil(rows / QUERY_JOB_PAGE_ROWS))


def write_break_even() -> int:
    """The most changes of one operation that Collections write in no more calls than one ingest job;
    above it, the job is cheaper (800: four Collections calls against a four-call job)."""
    return INGEST_JOB_CALLS * COLLECTION_RECORDS


@dataclass(frozen=True, slots=True)
class BulkChoice:
    """When to use Bulk API 2.0. ``threshold`` is the pinned count, or ``"auto"`` to compare call costs."""

    threshold: int | Literal["auto"] = AUTO

    @property
    def write_threshold(self) -> int:
        """Above this many changes, write through ingest jobs."""
        return write_break_even() if self.threshold == AUTO else self.threshold

    def read_in_bulk(self, rows: int) -> bool:
        """A read of ``rows`` rows, known before the first call: one query job rather than REST pages?"""
        if self.threshold == AUTO:
            return query_job_calls(rows) < rest_read_calls(rows)
        return rows > self.threshold

    def finish_in_bulk(self, rows: int) -> bool:
        """A read whose first REST page (already spent) says ``rows`` rows match: read them all again by
        one query job rather than follow the remaining REST pages?"""
        if self.threshold == AUTO:
            return query_job_calls(rows) < rest_read_calls(rows) - 1
        return rows > self.threshold
