#!/usr/bin/env bash
# Unpack Debian bookworm's libngspice0 39 (built WITHOUT KLU) into .cache/ngspice-39/, for the
# test that the runner still works with an old ngspice and warns once (tests/spice/). It is
# never installed: dpkg-deb -x only, the system keeps ngspice 46 from bookworm-backports.
# Idempotent; needs apt-get (run by `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/ngspice-39
lib=$(find "$dest" -name 'libngspice.so.0' 2>/dev/null | head -n 1 || true)
if [ -n "$lib" ]; then
    exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "fetch_old_ngspice: apt-get not found; the old-ngspice test will be skipped" >&2; exit 0; }
version=$(apt-cache madison libngspice0 2>/dev/null | awk -F'|' '$2 ~ /^ *39\./ {gsub(/ /, "", $2); print $2; exit}' || true)
if [ -z "$version" ]; then
    echo "fetch_old_ngspice: no libngspice0 39.x in the apt sources; the old-ngspice test will be skipped" >&2
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt-get download -qq "libngspice0=$version" 2>/dev/null) \
        || ! mkdir -p "$tmp/x" || ! dpkg-deb -x "$tmp"/libngspice0_*.deb "$tmp/x"; then
    echo "fetch_old_ngspice: could not download or unpack libngspice0 $version; the old-ngspice test will be skipped" >&2
    exit 0
fi
rm -rf "$dest"
mkdir -p .cache
mv "$tmp/x" "$dest"
echo "fetch_old_ngspice: libngspice0 $version unpacked into $dest"
