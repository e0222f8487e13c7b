#!/usr/bin/env bash
# Mutation testing of the core with mutmut (docs/testing.md): sync/, mapping/, config/, reconciler/ and the
# connectors' translation modules, as [tool.mutmut] in pyproject.toml names them. Not part of the default
# test run. Incremental: mutmut keeps each mutant's result in mutants/ and reruns only the mutants of
# functions that changed (and the tests that cover them); --fresh starts over. Before any test runs,
# mypy --strict checks every mutant at once: a mutant it rejects is counted as killed ("by mypy").
#
#   scripts/mutation.sh                      # run (4 workers, nice 19: NICE=10 to change), then the result per module
#   scripts/mutation.sh --jobs 1             # one worker (a shared machine)
#   scripts/mutation.sh --fresh              # forget earlier results first
#   scripts/mutation.sh 'campaign_bridge.sync.guard*'   # only these mutants
#   scripts/mutation.sh --retry-survivors    # after adding tests: run the survivors again
#   scripts/mutation.sh --retry-timeouts     # on a quiet machine: run again the mutants stopped at the time limit
#   scripts/mutation.sh --summary            # only print the last result, with every survivor
#
# Show one mutant: .venv/bin/mutmut show NAME (names as the summary lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
# 4 workers on the 2-core machine: a mutant's tests wait about a quarter of the time (threads, the sandboxes'
# sockets, short sleeps), so more workers than cores fill it. Measured on 24 engine survivors, the same verdicts
# each time (docs/testing.md): 271 s with 2 workers against 248 s with 3 (session 13); 181 s and 172 s with 3
# against 163 s and 158 s with 4, alternated (session 14). Each test's own time limit
# (scripts/mutation_pytest.py) is four times its measured time plus a second, above the twice a fourth worker
# slows it.
jobs=4
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        # forget every verdict; keep only killers.tsv (which tests killed which function's mutants: the order
        # scripts/mutation_pytest.py runs a mutant's tests in, never a verdict)
        --fresh) if [ -f mutants/killers.tsv ]; then mv mutants/killers.tsv .killers.tsv; fi
            rm -rf mutants
            if [ -f .killers.tsv ]; then mkdir mutants && mv .killers.tsv mutants/killers.tsv; fi ;;
        --jobs) jobs=$2; shift ;;
        --summary) exec "$python" scripts/mutation_summary.py --survivors ;;
        # after adding tests: check again the mutants that survived (a plain run keeps earlier verdicts)
        --retry-survivors) mapfile -t -O "${#args[@]}" args < <("$python" scripts/mutation_summary.py --names) ;;
        # a mutant stopped at the time limit counts as killed; on a loaded machine (nice 19 starves the workers)
        # the limit can stop tests that would have passed: check those again when the machine is quiet
        --retry-timeouts) mapfile -t -O "${#args[@]}" args < <("$python" scripts/mutation_summary.py --timeouts) ;;
        *) args+=("$1") ;;
    esac
    shift
done
# a new clone: the project's virtualenv as scripts/test.sh makes it, with mutmut (the `mutation` extra)
if [ ! -x "$python" ]; then python3 -m venv "$(dirname "$(dirname "$python")")"; fi
"$python" -c 'import mutmut' 2>/dev/null || "$python" -m pip install -q -e '.[dev,mutation]'
# [tool.mutmut]'s type_check_command runs "python -m mypy": the project's python, with mypy installed
PATH="$(cd "$(dirname "$python")" && pwd):$PATH"
export PATH
# mutmut 3.8 collects stats for tests added since its last run by themselves, and the map of which tests
# cover which function then holds only those: a test newer than the stats means collecting them all again
if [ -f mutants/mutmut-stats.json ] && [ -n "$(find tests -name '*.py' -newer mutants/mutmut-stats.json -print -quit)" ]; then
    rm mutants/mutmut-stats.json
fi
# The convergence property test (tests/sync/test_convergence.py) runs for every engine mutant no quicker
# test kills: 15 examples instead of 60 (about 10 s of a survivor's 20). Fewer examples can only let a
# mutant live, never kill one falsely.
export CB_CONVERGENCE_EXAMPLES=${CB_CONVERGENCE_EXAMPLES:-15}
started=$(date +%s)
# mutmut's progress line redraws itself: print every 200th state of it
# scripts/mutation_run.py is mutmut's own command line with its type-check step mapped to mutants by Python's
# parser instead of libcst (the same mutants, found in a second instead of about five minutes of CPU)
nice -n "${NICE:-19}" "$python" -c 'import runpy; runpy.run_path("scripts/mutation_run.py", run_name="__main__")' \
    run --max-children "$jobs" "${args[@]}" | stdbuf -oL tr '\r' '\n' | grep --line-buffered -v '^\s*$' \
    | awk '{ if ($0 ~ /[0-9]+\/[0-9]+ / && (++n % 200)) next; print; fflush() }' || true
echo "mutation run took $(( $(date +%s) - started ))s with $jobs worker(s)"
"$python" scripts/mutation_summary.py
