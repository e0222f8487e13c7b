"""A pytest plugin for mutation runs only: ``[tool.mutmut]`` loads it (``-p scripts.mutation_pytest``).

Two things make each mutant cheaper to check; neither can change whether a mutant is killed.

**The inherited heap is frozen.** mutmut forks one process per mutant from a parent that has already run the
whole unit-level selection once, so every child inherits that parent's large heap. A full garbage collection
in the child (pytest runs one when every session ends, for its unraisable-exception check, and Python runs
them as a test allocates) walks the whole inherited heap and, by touching every object, makes the kernel copy
every page of it: measured at about 150 ms of CPU a mutant, more than most mutants' tests take. Freezing the
objects that exist when pytest starts leaves them out of every later collection. Objects the tests create are
still collected as usual, so no test can pass or fail differently.

**The likeliest killers run first.** mutmut runs a mutant's tests fastest first and stops at the first
failure (``-x``), so a mutant killed only by a test late in that order runs every test before it: the engine's
mutants are covered by a few hundred tests each. The tests are put in this order instead, each group keeping
mutmut's fastest-first order within it:

1. tests that killed another mutant of the same function in an earlier run (most kills first), as recorded
   in ``mutants/killers.tsv``, which this plugin appends to whenever a test fails in a mutant's process;
2. tests whose file is named after the mutated module (``test_*guard*.py`` for ``sync/guard.py``): the tests
   written for it;
3. the rest.

Every test still runs for a mutant that survives, so only the time to a kill changes (docs/testing.md).

One thing makes a mutant that hangs cheaper to stop. mutmut's own limit is for all of a mutant's tests together
(four times their measured time): a pager mutant that never advances ran a minute before mutmut stopped it, the
same minute whichever test hung. **Each test gets its own limit** instead, on the same terms (``timeout_multiplier``
times its own measured time, plus a second, through pytest-timeout), and a test stopped there ends the mutant's
process with mutmut's exit code for a timeout: the mutant is counted as a timeout, as before, in a few seconds.
"""

from __future__ import annotations

import gc
import json
import os
import re
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import pytest

#: Under ``mutants/``, where mutmut runs the tests: "mutant name<TAB>test id" for each kill.
KILLERS = Path("killers.tsv")
#: mutmut's record of each test's duration, written by its stats run (before the mutants' processes start).
STATS = Path("mutmut-stats.json")
#: mutmut's exit code for a mutant stopped at its time limit ("timeout": counted as caught).
TIMED_OUT = 36

_MUTANT = re.compile(r"^(?P<module>[\w.]+)\.x(?:_|ǁ)(?P<function>.*)__mutmut_\d+$")


def _function(mutant: str) -> str:
    return mutant.rsplit("__mutmut_", 1)[0]


def _history() -> dict[str, Counter[str]]:
    """For each mutated function, the tests that killed its mutants before, with how many each killed."""
    kills: dict[str, Counter[str]] = defaultdict(Counter)
    if KILLERS.exists():
        for line in KILLERS.read_text(encoding="utf-8").splitlines():
            mutant, _, test = line.partition("\t")
            if test:
                kills[_function(mutant)][test] += 1
    return kills


# Read when the plugin is first imported: in mutmut's parent process, before it forks the mutants' processes,
# so each of them inherits it and the kills of this run do not reorder its own later mutants.
_KILLS = _history()


#: Each test's time limit in seconds, read from mutmut's stats once they exist (see ``pytest_configure``).
_LIMITS: dict[str, float] = {}


def _limits() -> dict[str, float]:
    """``timeout_multiplier`` x (the test's measured seconds + ``timeout_constant``), as mutmut computes its
    limit for a mutant's tests together."""
    mutmut = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    multiplier, constant = float(mutmut.get("timeout_multiplier", 15)), float(mutmut.get("timeout_constant", 1))
    durations = json.loads(STATS.read_text(encoding="utf-8"))["duration_by_test"]
    return {test: multiplier * (float(seconds) + constant) for test, seconds in durations.items()}


def pytest_configure(config: pytest.Config) -> None:
    del config  # the hook's signature; nothing in it is needed
    # Read in mutmut's parent process, when its clean run starts (the stats run before it wrote the file), so
    # every mutant's process inherits the limits instead of parsing the stats again.
    if not _LIMITS and STATS.exists():
        _LIMITS.update(_limits())
    gc.freeze()


def _mutant() -> str | None:
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    return name if _MUTANT.match(name) else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mutant = _mutant()
    if mutant is None:
        return
    match = _MUTANT.match(mutant)
    assert match is not None
    stem = match["module"].rsplit(".", 1)[-1].strip("_")
    killed = _KILLS.get(_function(mutant), Counter())

    def rank(item: pytest.Item) -> tuple[int, int]:
        if item.nodeid in killed:
            return 0, -killed[item.nodeid]
        if stem and stem in Path(item.nodeid.split("::", 1)[0]).stem:
            return 1, 0
        return 2, 0

    items.sort(key=rank)  # stable: mutmut's fastest-first order holds within each group
    for item in items:
        if item.nodeid in _LIMITS:
            item.add_marker(pytest.mark.timeout(_LIMITS[item.nodeid]))


#: Set when a test of this mutant's process was stopped at its limit.
_timed_out: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    mutant = _mutant()
    if mutant is not None and report.failed:
        if "Timeout (>" in report.longreprtext:  # pytest-timeout's words for a test stopped at its limit
            _timed_out.append(report.nodeid)
            return
        with KILLERS.open("a", encoding="utf-8") as file:  # one short append: whole lines from both workers
            file.write(f"{mutant}\t{report.nodeid}\n")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if _mutant() is not None and _timed_out:
        session.exitstatus = TIMED_OUT
