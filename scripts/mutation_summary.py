"""Print the last mutation run's result per module, then every surviving mutant by module.

Reads what mutmut leaves in ``mutants/`` (a ``.meta`` file per mutated module: each mutant's exit code).
"killed %" counts a mutant ``mypy --strict`` rejects as killed; "by tests %" is the share the tests killed of
the mutants mypy let through. ``--survivors`` lists the survivors' names, to pass to ``mutmut show NAME``; ``--names`` only those;
``--not-run`` the names no run has checked; ``--timeouts`` those stopped at the time limit (worth checking again on
a quiet machine: a worker starved of CPU reaches the limit with tests that would have passed).
``--unexplained``: the survivors of the modules the issue's bar covers (``sync/``, ``mapping/``, the connectors'
translation modules) that docs/testing.md's list of survivors does not name: each needs a test or a reason.
``--stale``: the names that list still gives whose last verdict is not "survived" (killed since, not run, or no
longer generated after a change): bullets to drop or to check again.
``--time``: where a run's time went (worker-minutes per package and verdict, from the durations mutmut keeps
per mutant), and what a whole run would take with four workers or three: survivors and timeouts are what cost.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

#: mutmut's exit codes: 1 and 3 a test failed (killed), 0 every test passed (survived), 5/33 no test ran it,
#: 37 ``mypy --strict`` rejected the mutant (``type_check_command``: it could never pass the project's checks,
#: so no test ran it), the rest a test hung past the time limit.
KILLED, SURVIVED, NO_TESTS, TYPE_CHECK = {1, 3}, {0}, {5, 33}, {37}
TIMEOUT = {36, -24, 24, 152, 255}
CORE = ("campaign_bridge/sync/", "campaign_bridge/mapping/")
#: The modules the bar covers: every survivor in them is to be explained in docs/testing.md.
BAR = (*CORE, "campaign_bridge/connectors/")
#: The heading of docs/testing.md's list of survivors, each named in full as ``mutmut show`` takes it.
EXPLAINED = "## Every survivor, explained"


def verdict(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in TYPE_CHECK:
        return "mypy"  # rejected by the type checker: counted as killed, and shown apart
    if code in TIMEOUT:
        return "timeout"  # a mutant that made a test hang was caught: counted as killed below
    if code is None:
        return "not run"
    return f"other ({code})"


def _shares(counts: Counter[str]) -> tuple[int, int, str, str]:
    """Mutants checked, caught, the share caught of those checked (a run stopped early leaves some unchecked),
    and the share the tests caught of those mypy let through (the tests' own strength, mypy left aside)."""
    checked = sum(counts.values()) - counts["not run"]
    caught = counts["killed"] + counts["timeout"] + counts["mypy"]
    share = f"{100 * caught / checked:.1f}%" if checked else "-"
    typed = checked - counts["mypy"]
    by_tests = f"{100 * (caught - counts['mypy']) / typed:.1f}%" if typed else "-"
    return checked, caught, share, by_tests


def _line(name: str, counts: Counter[str]) -> str:
    checked, caught, share, by_tests = _shares(counts)
    return (
        f"{name:58} {checked:7} {caught:7} {counts['mypy']:7} {counts['survived']:8} {counts['no tests']:8}"
        f" {share:>8} {by_tests:>8}"
    ) + (f"  ({counts['not run']} not run)" if counts["not run"] else "")


def _groups(rows: list[tuple[str, Counter[str]]]) -> dict[str, Counter[str]]:
    """The rows summed per package (a connector's modules per connector)."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for module, counts in rows:
        groups[_group(module)].update(counts)
    return groups


def _group(module: str) -> str:
    """A module's package (a connector's modules go under their connector)."""
    return "/".join(module.split("/")[:3]) if "/connectors/" in module else "/".join(module.split("/")[:2])


def _time(metas: list[Path]) -> int:
    """Worker-minutes the tested mutants took, per package and verdict (mypy's rejections and "no tests"
    cost no test run). Durations are wall time in the fork, so a run on a busy machine reads high."""
    seconds: dict[str, Counter[str]] = defaultdict(Counter)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for meta in metas:
        data = json.loads(meta.read_text(encoding="utf-8"))
        group = _group(str(meta.relative_to("mutants")))
        for name, code in data["exit_code_by_key"].items():
            took = data.get("durations_by_key", {}).get(name)
            kind = verdict(code)
            if took is None or kind not in ("killed", "survived", "timeout"):
                continue
            seconds[group][kind] += took
            counts[group][kind] += 1
    kinds = ("killed", "survived", "timeout")
    print(f"{'package':42}" + "".join(f" {k + ' (n, min)':>20}" for k in kinds) + f" {'minutes':>8}")
    total: Counter[str] = Counter()
    for group in sorted(seconds):
        total.update(seconds[group])
        cells = "".join(f" {counts[group][k]:>11} {seconds[group][k] / 60:>8.1f}" for k in kinds)
        print(f"{group + '/':42}{cells} {sum(seconds[group].values()) / 60:>8.1f}")
    minutes = sum(total.values()) / 60
    # the durations are wall time in the fork, so they depend on how many ran at once: divide by the run's workers
    print(
        f"\n{minutes:.1f} worker-minutes of tests: {minutes / 4:.1f} minutes if run by 4 workers, {minutes / 3:.1f} by 3,"
        " before the fixed"
    )
    print(
        "cost (generating the mutants, the mypy pass, the stats and clean runs: about 4 to 6 minutes on a quiet machine)"
    )
    return 0


def _bullets(doc: Path) -> list[str]:
    """The bullets of docs/testing.md's list of survivors (its section, to the next ``## ``)."""
    text = doc.read_text(encoding="utf-8")
    start = text.find(EXPLAINED)
    if start < 0:
        return []
    end = text.find("\n## ", start + len(EXPLAINED))
    return re.split(r"\n- ", text[start : end if end > 0 else None])


def _names(bullets: list[str]) -> set[str]:
    return set(re.findall(r"campaign_bridge\.[\wǁ.]+__mutmut_\d+", "\n".join(bullets)))


def explained(doc: Path) -> set[str]:
    """The mutant names docs/testing.md's list of survivors gives a reason for (a bullet starting ``OPEN``
    names a survivor still waiting for a test or a reason: it gives none)."""
    return _names([b for b in _bullets(doc) if not b.startswith("OPEN")])


def unexplained(metas: list[Path], doc: Path) -> int:
    """Prints the bar's survivors (and mutants no test covers) the list does not name; 1 if there are any."""
    named = explained(doc)
    missing = 0
    for meta in metas:
        if not str(meta.relative_to("mutants")).startswith(BAR):
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name in sorted(k for k, code in codes.items() if verdict(code) in ("survived", "no tests")):
            if name not in named:
                print(name)
                missing += 1
    print(f"{missing} survivor(s) not explained in {doc} under '{EXPLAINED}'", file=sys.stderr)
    return 1 if missing else 0


def stale(metas: list[Path], doc: Path) -> int:
    """Prints each name docs/testing.md's list gives (OPEN bullets too) with its last verdict, when that is not
    "survived" or "no tests"; 1 if there are any."""
    named = _names(_bullets(doc))
    codes: dict[str, int | None] = {}
    for meta in metas:
        codes.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    gone = 0
    for name in sorted(named):
        kind = verdict(codes[name]) if name in codes else "not generated"
        if kind not in ("survived", "no tests"):
            print(f"{name}\t{kind}")
            gone += 1
    print(f"{gone} name(s) in {doc}'s list of survivors did not survive the last run", file=sys.stderr)
    return 1 if gone else 0


def main(argv: list[str]) -> int:
    root = Path("mutants")
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print("no mutation results: run scripts/mutation.sh first", file=sys.stderr)
        return 1
    listing = {"--names": "survived", "--not-run": "not run", "--timeouts": "timeout"}
    asked = [flag for flag in listing if flag in argv]
    if asked:
        # the survivors' names (or those not checked yet, or stopped at the limit), one a line, for ``mutation.sh``
        wanted = listing[asked[0]]
        prefixes = [a for a in argv if not a.startswith("--")]
        for meta in metas:
            codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
            for name in sorted(k for k, code in codes.items() if verdict(code) == wanted):
                if not prefixes or name.startswith(tuple(prefixes)):
                    print(name)
        return 0
    if "--time" in argv:
        return _time(metas)
    if "--unexplained" in argv:
        return unexplained(metas, Path("docs/testing.md"))
    if "--stale" in argv:
        return stale(metas, Path("docs/testing.md"))
    rows: list[tuple[str, Counter[str]]] = []
    survivors: dict[str, list[str]] = defaultdict(list)
    for meta in metas:
        module = str(meta.relative_to(root)).removesuffix(".meta")
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if not codes:
            continue
        counts = Counter(verdict(code) for code in codes.values())
        rows.append((module, counts))
        survivors[module] = sorted(k for k, code in codes.items() if verdict(code) in ("survived", "no tests"))
    if "--markdown" in argv:  # the table docs/testing.md keeps
        groups = _groups(rows)
        print("| module | checked | killed | of which by mypy | survived | no tests | killed % | by tests % |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for module, counts in [*rows, *((g + "/", c) for g, c in sorted(groups.items()))]:
            checked, caught, share, by_tests = _shares(counts)
            late = f" ({counts['not run']} not run)" if counts["not run"] else ""
            print(
                f"| `{module.removeprefix('campaign_bridge/')}` | {checked}{late} | {caught} | {counts['mypy']} "
                f"| {counts['survived']} | {counts['no tests']} | {share} | {by_tests} |"
            )
        return 0
    print(
        f"{'module':58} {'checked':>7} {'killed':>7} {'by mypy':>7} {'survived':>8} {'no tests':>8} {'killed %':>8}"
        f" {'by tests':>8}"
    )
    for module, counts in rows:
        print(_line(module, counts))
    print()
    for group, counts in sorted(_groups(rows).items()):
        print(_line(group + "/", counts))
    if "--survivors" in argv:
        for module, names in survivors.items():
            if names:
                print(f"\n{module}: {len(names)}")
                for name in names:
                    print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
