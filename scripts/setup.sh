#!/usr/bin/env bash
# Set up eqspike-xbar on a Debian bookworm machine: system packages (ngspice 46 with KLU
# from bookworm-backports, libngspice0, python3-venv) and a virtual environment with the
# package and its dependencies. Idempotent: a second run that finds everything in place
# takes about a second.
#
#   scripts/setup.sh            # system packages (needs root or sudo) + .venv
#   SKIP_APT=1 scripts/setup.sh # only the virtual environment
#   EXTRAS=test,osdi scripts/setup.sh  # optional extras to install (default: test)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
python=${PYTHON:-python3}
extras=${EXTRAS:-test}

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@";
    elif command -v sudo >/dev/null 2>&1; then sudo "$@";
    else die "need root for '$*' (run as root, or install sudo)"; fi
}

ngspice_ok() {
    # ngspice 46 or newer, compiled with KLU, and its shared library for PySpice.
    command -v ngspice >/dev/null 2>&1 || return 1
    local v
    v=$(ngspice -v 2>/dev/null) || return 1
    echo "$v" | grep -q "Compiled with KLU" || return 1
    local major
    major=$(echo "$v" | sed -n 's/.*ngspice-\([0-9]\+\).*/\1/p' | head -n1)
    [ -n "$major" ] && [ "$major" -ge 46 ] || return 1
    ldconfig -p 2>/dev/null | grep -q 'libngspice\.so\.0' || return 1
}

debian_mirror() {
    # The mirror this machine is already configured with (no host is written into the project).
    local uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    echo "$uri"
}

install_system_packages() {
    local need_apt=0
    ngspice_ok || need_apt=1
    "$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt=1
    if [ "$need_apt" -eq 0 ]; then
        say "ngspice $(ngspice -v 2>/dev/null | sed -n 's/.*ngspice-\([0-9.]*\).*/\1/p' | head -n1) with KLU and python3-venv already installed"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ngspice >= 46 (compiled with KLU), libngspice0 and python3-venv by hand, then run with SKIP_APT=1"
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release"
    local list=/etc/apt/sources.list.d/${codename}-backports.list
    if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        local mirror
        mirror=$(debian_mirror)
        say "adding ${codename}-backports from $mirror"
        echo "deb $mirror ${codename}-backports main" | as_root tee "$list" >/dev/null
    fi
    say "apt-get update"
    as_root apt-get update -qq
    say "installing ngspice, libngspice0 (${codename}-backports) and python3-venv"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -t "${codename}-backports" ngspice libngspice0 >/dev/null
    "$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || \
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    ngspice_ok || die "ngspice >= 46 with KLU is still not available after apt-get (ngspice -v: $(ngspice -v 2>&1 | head -n 3 | tr '\n' ' '))"
    say "$(ngspice -v 2>/dev/null | grep -m1 -o 'ngspice-[0-9.]*') installed, compiled with KLU"
}

install_venv() {
    local stamp=$venv/.eqspike-xbar-setup
    local want
    want=$( (cat "$here/pyproject.toml"; echo "extras=$extras") | sha256sum | cut -c1-16)
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        say "virtual environment $venv is up to date"
        return
    fi
    if [ ! -x "$venv/bin/python" ]; then
        say "creating virtual environment $venv"
        "$python" -m venv "$venv"
    fi
    say "installing eqspike-xbar and its dependencies into $venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e "$here[$extras]"
    echo "$want" > "$stamp"
}

if [ "${SKIP_APT:-0}" != "1" ]; then install_system_packages; fi
install_venv
say "done"
