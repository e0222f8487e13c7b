#!/usr/bin/env bash
# The project's test command (CI runs exactly this): set up .venv, make sure a PostgreSQL server can be
# started, then lint, format-check, type-check and test. Arguments are passed on to pytest.
# Every check runs even when an earlier one fails; the exit status is non-zero if any failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
venv=.venv

step() { printf '\n=== %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
have_browser() { [ -x "${CB_CHROMIUM:-/usr/bin/chromium}" ] && [ -x "${CB_CHROMEDRIVER:-/usr/bin/chromedriver}" ]; }
have_postgres() { command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

step "virtualenv ($venv)"
if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv"; then
        # Debian's own python3 ships venv's pip bootstrap in a separate package.
        is_root || die "python3 -m venv failed: install python3-venv"
        rm -rf "$venv"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv && \
            python3 -m venv "$venv" || die "could not create $venv"
    fi
fi
python="$venv/bin/python"

step "install (pip install -e '.[dev]')"
"$python" -m pip install -qq --disable-pip-version-check -e '.[dev]' || die "pip install failed"

step "postgresql server"
if [ -n "${CB_TEST_POSTGRES_URL:-}" ]; then
    echo "using CB_TEST_POSTGRES_URL"
elif have_postgres; then
    echo "found initdb"
elif is_root; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql || \
        die "apt-get install postgresql failed"
    have_postgres || die "postgresql installed but no initdb found"
else
    die "PostgreSQL server binaries not found: install them (Debian/Ubuntu: sudo apt-get install postgresql;
  Fedora: sudo dnf install postgresql-server; macOS: brew install postgresql), or set CB_TEST_POSTGRES_URL"
fi

step "chromium and chromedriver (the console's browser tests)"
if have_browser; then
    echo "found ${CB_CHROMIUM:-/usr/bin/chromium} and ${CB_CHROMEDRIVER:-/usr/bin/chromedriver}"
elif is_root; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver || \
        die "apt-get install chromium chromium-driver failed"
    have_browser || die "chromium installed but /usr/bin/chromium or /usr/bin/chromedriver is missing"
else
    die "Chromium and its driver not found: install them (Debian/Ubuntu: sudo apt-get install chromium chromium-driver),
  or set CB_CHROMIUM and CB_CHROMEDRIVER to their paths"
fi

failed=()
check() {
    local name=$1
    shift
    step "$name"
    "$@" || failed+=("$name")
}

export CB_REQUIRE_POSTGRES=1
export CB_REQUIRE_BROWSER=1
check "ruff check" "$venv/bin/ruff" check .
check "ruff format --check" "$venv/bin/ruff" format --check .
check "mypy" "$venv/bin/mypy"
check "pytest" "$python" -m pytest -q "$@"

echo
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all checks passed"
