#!/usr/bin/env bash
# Makes sure the programs the test suite runs are installed, from Debian's packages, before `make test`:
#   docker-compose   the deploy-file tests validate docker-compose.yml with `docker-compose config -q`
#   /usr/bin/chromium  the browser tests drive Debian's Chromium with Playwright (no browser download)
#   libpango-1.0.so.0, libpangoft2-1.0.so.0, DejaVuSans.ttf  WeasyPrint draws the console's printable
#                      programme with Pango and Debian's fonts (a library or font is looked up by its file name)
# Each argument is PROGRAM:PACKAGE (a command on PATH, or an absolute path). Installs the packages of the
# missing programs in one apt-get run; does nothing when all are there, so `make test` calls it every time.
set -euo pipefail

# A shared library (known to the dynamic linker) or a font (known to fontconfig), by its file name.
found_file() {
  case "$1" in
    *.so*) ldconfig -p 2>/dev/null | grep -q "/$1\$" ;;
    *.ttf|*.otf) command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q "/$1:" ;;
    *) return 1 ;;
  esac
}

missing=()
for pair in "$@"; do
  program=${pair%%:*}
  package=${pair#*:}
  if [ -x "$program" ] || command -v "$program" >/dev/null 2>&1 || found_file "$program"; then
    echo "ensure-debian-packages: found $program"
  else
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian-packages: ${missing[*]} missing and apt-get is not available;" \
       "install them with your package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure-debian-packages: need root (or sudo) to install ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-debian-packages: installing ${missing[*]} (apt-get update, apt-get install)"
$SUDO apt-get update -qq
# --no-install-recommends: validating compose files needs no docker engine, and the headless browser tests
# need neither the recommended fonts nor the desktop extras.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ensure-debian-packages: installed ${missing[*]}"
