#!/bin/sh
# The container image's build steps, in one place: the Dockerfile runs this on top of the official
# locustio/locust image (as its `locust` user, into its /opt/venv), and the test suite runs it in a
# clean virtual environment (tests/deploy/test_image.py), since no Docker engine runs where the
# suite does. What it leaves behind is what the image holds:
#   - loginload installed as a package, with the `loginload` command (mock IdP, runner, reports);
#   - the installed locustfile at $PREFIX/share/loginload/locustfile.py, a single file that imports
#     only the installed package (the image points LOCUST_LOCUSTFILE at it);
#   - an install that printed no warning, and entry points that answer.
# Usage: scripts/image-install.sh SOURCE_DIR     (Python: $PYTHON, default the `python` on PATH)
set -eu

src="${1:?usage: scripts/image-install.sh SOURCE_DIR}"
python="${PYTHON:-python}"
bin="$(dirname "$(command -v "$python")")"
work="$(mktemp -d)"
log="$work/log"
trap 'rm -rf "$work"' EXIT

fail() {
    echo "image-install: $*" >&2
    exit 1
}

# pip 26.3 is the first to show the build backend's own warnings (setuptools' deprecations among them).
"$python" -m pip install --quiet --upgrade 'pip>=26.3' >"$log" 2>&1 || { cat "$log" >&2; fail "cannot upgrade pip"; }
"$python" -m pip install "$src" >"$log" 2>&1 || { cat "$log" >&2; fail "pip install $src failed"; }

# Packaging hygiene: the install warns about nothing. The one line let through is about the index
# configuration of the machine running the build (a pip.conf naming an index folder that lacks a
# package), not about loginload.
warnings="$(grep -iE 'warning|deprecat' "$log" | grep -vE "^WARNING: Location '[^']*' is ignored: it is neither a file nor a directory\.$" || true)"
[ -z "$warnings" ] || { printf '%s\n' "$warnings" >&2; fail "pip install printed warnings (above)"; }
"$python" -m pip check >"$log" 2>&1 || { cat "$log" >&2; fail "pip check found broken requirements"; }

prefix="$("$python" -c 'import sys; print(sys.prefix)')"
mkdir -p "$prefix/share/loginload"
"$python" -c 'import loadtests, shutil, sys; shutil.copyfile(loadtests.LOCUSTFILE, sys.argv[1])' \
    "$prefix/share/loginload/locustfile.py"

# Every part the image runs answers: the mock IdP, the orchestrator, Locust with loginload's options.
"$bin/loginload" --help >/dev/null || fail "loginload --help failed"
"$bin/loginload" idp --help >/dev/null || fail "loginload idp --help failed"
# (--list loads the locustfile and parses loginload's options: an unknown one is an error)
(cd "$work" && "$bin/locust" -f "$prefix/share/loginload/locustfile.py" --stage-seconds 5 --list) \
    >"$log" 2>&1 || { cat "$log" >&2; fail "locust -f locustfile.py --list failed"; }
grep -q 'Citizen' "$log" || { cat "$log" >&2; fail "locust does not find loginload's users"; }
echo "image-install: loginload installed in $prefix; locustfile $prefix/share/loginload/locustfile.py"
