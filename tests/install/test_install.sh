#!/bin/sh
# Installs the build given as $1 twice: under a prefix of its own, and with DESTDIR
# under /usr/local. Checks that each file lands where docs/operations.md (section 1.5)
# lists it, that the installed daemon runs, and that the systemd unit names the installed
# daemon and passes `systemd-analyze verify` without a warning.
set -eu

build=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/idsvc-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

expect_file() {
    [ -f "$1" ] || fail "missing after install: $1"
}

prefix=$work/usr
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
    fail "cmake --install --prefix failed: $(tail -n 5 "$work/install.log")"

[ -x "$prefix/sbin/idsvc" ] || fail "sbin/idsvc is missing or not executable"
[ -x "$prefix/bin/idsvc-admin" ] || fail "bin/idsvc-admin is missing or not executable"
for page in idsvc-admin.1 idsvc-admin-audit.1 idsvc-admin-policy.1; do
    expect_file "$prefix/share/man/man1/$page"
done
for asset in pages.js pages.css i18n/en.json i18n/zh-Hans.json; do
    expect_file "$prefix/share/idsvc/web/$asset"
done
for doc in operations.md configuration.md api.md openapi.json policy.xsd \
           examples/idsvc.conf.sample examples/policies/asean-cn-base.xml; do
    expect_file "$prefix/share/doc/idsvc/$doc"
done

# The installed daemon starts far enough to read its arguments: without --config it
# prints its usage and exits 2.
status=0
"$prefix/sbin/idsvc" >"$work/usage.txt" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "installed idsvc without --config exited $status, expected 2"
grep -q -- "--config FILE" "$work/usage.txt" || fail "installed idsvc printed no usage"

unit=$prefix/lib/systemd/system/idsvc.service
expect_file "$unit"
grep -qx "ExecStart=$prefix/sbin/idsvc --config /etc/idsvc/idsvc.conf" "$unit" ||
    fail "the unit's ExecStart does not name $prefix/sbin/idsvc: $(grep ExecStart= "$unit")"
if grep -q "@IDSVC_" "$unit"; then
    fail "the unit has an unreplaced placeholder: $(grep "@IDSVC_" "$unit")"
fi

# systemd-analyze verify exits 0 on unknown keys and only prints them, so any output
# fails the test. --man=no skips the man: link, which is not in this MANPATH.
verify_output=$(systemd-analyze verify --man=no "$unit" 2>&1) ||
    fail "systemd-analyze verify rejected the unit: $verify_output"
[ -z "$verify_output" ] || fail "systemd-analyze verify warned: $verify_output"

# With DESTDIR the files go under it, while the unit names the final path.
DESTDIR=$work/dest cmake --install "$build" --prefix /usr/local >"$work/destdir.log" ||
    fail "cmake --install with DESTDIR failed: $(tail -n 5 "$work/destdir.log")"
[ -x "$work/dest/usr/local/sbin/idsvc" ] || fail "DESTDIR install has no sbin/idsvc"
staged_unit=$work/dest/usr/local/lib/systemd/system/idsvc.service
expect_file "$staged_unit"
grep -qx "ExecStart=/usr/local/sbin/idsvc --config /etc/idsvc/idsvc.conf" "$staged_unit" ||
    fail "the staged unit's ExecStart is not /usr/local/sbin/idsvc: $(grep ExecStart= "$staged_unit")"

echo "install layout and systemd unit: ok"
