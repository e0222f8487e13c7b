#!/bin/sh
# The long kill soak, in the background-friendly form: `scripts/soak.sh [SCENARIOS] [FIRST_SEED]`.
# Runs nice'd, keeps going past failures and writes its summary (and each failing seed with the command
# that replays it) to soak-<first seed>-<scenarios>.log in the current folder. Exit code 1 if any failed.
#   nohup scripts/soak.sh 10000 1 &
set -eu
scenarios="${1:-10000}"
seed="${2:-1}"
here="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
[ -x "$python" ] || python=python3
log="$(pwd)/soak-$seed-$scenarios.log"
cd "$here"
exec nice -n 10 "$python" -m tests.reliability.soak --scenarios "$scenarios" --seed "$seed" --keep-going >"$log" 2>&1
