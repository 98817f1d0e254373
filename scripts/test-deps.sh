#!/bin/sh
# What the test suite needs beyond Python, run first by `make test` and by .ci/run:
#   redis-server  the Redis store is tested against a real server
#   chromium      Debian's, at /usr/bin/chromium (or LOGINLOAD_CHROMIUM): the report is opened headless
#   iproute2      `ip netns`, for the multi-host test (as root only; it is skipped elsewhere)
#   python3-venv  only while the virtual environment does not exist yet (make creates it)
# Whatever is missing is installed from Debian's packages when this runs as root with apt-get; otherwise
# it stops before anything else runs, with one line naming what to install. Exit status 0 when
# everything is there, 2 when something is missing and could not be installed.
set -eu

chromium="${LOGINLOAD_CHROMIUM:-/usr/bin/chromium}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"

is_root() { [ "$(id -u)" = 0 ]; }

missing() {
    out=""
    command -v redis-server >/dev/null 2>&1 || out="$out redis-server"
    [ -x "$chromium" ] || out="$out chromium"
    if is_root; then
        command -v ip >/dev/null 2>&1 || out="$out iproute2"
    fi
    if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        out="$out python3-venv"
    fi
    echo "${out# }"
}

need="$(missing)"
[ -z "$need" ] && exit 0

if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    why="not root"
    is_root && why="no apt-get"
    echo "make test: missing $need, not installed ($why): run 'sudo apt-get install $need' (Debian) or install them otherwise, then make test again" >&2
    exit 2
fi

echo "make test: installing $need from Debian's packages" >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need; } >/tmp/loginload-test-deps.log 2>&1; then
    echo "make test: apt-get could not install $need (see /tmp/loginload-test-deps.log)" >&2
    exit 2
fi
still="$(missing)"
if [ -n "$still" ]; then
    echo "make test: still missing after apt-get install: $still" >&2
    exit 2
fi
