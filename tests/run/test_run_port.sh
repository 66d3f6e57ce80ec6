#!/bin/sh
# Checks that tools/run takes the port from an existing state/idsvc.conf, and stops when
# IDSVC_RUN_PORT names another port, that it prints its banner only after the daemon
# logged "started", and that SIGTERM to the script stops the daemon. It runs a copy of the script in a temporary folder, with stubs for
# tools/install-deps, cmake and the daemon, so nothing is built or started.
# Usage: test_run_port.sh PATH/TO/tools/run
set -eu

run_script=$1
work=$(mktemp -d /tmp/idsvc-run-port-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0

mkdir -p "$work/root/tools" "$work/root/state" "$work/bin" "$work/build/idsvc"
cp "$run_script" "$work/root/tools/run"
printf '#!/bin/sh\nexit 0\n' > "$work/root/tools/install-deps"
printf '#!/bin/sh\nexit 0\n' > "$work/bin/cmake"
# The stub daemon logs as the daemon does, on standard error.
printf '#!/bin/sh\necho "daemon started with $*" >&2\necho "{\\"event\\":\\"started\\"}" >&2\n' \
    > "$work/build/idsvc/idsvc"
chmod +x "$work/root/tools/run" "$work/root/tools/install-deps" "$work/bin/cmake" \
    "$work/build/idsvc/idsvc"

# Runs tools/run with IDSVC_RUN_PORT set to $1 (empty: unset); output in $work/out.
start() {
    if [ -n "$1" ]; then
        env PATH="$work/bin:$PATH" IDSVC_RUN_BUILD="$work/build" IDSVC_RUN_PORT="$1" \
            "$work/root/tools/run" > "$work/out" 2>&1
    else
        env -u IDSVC_RUN_PORT PATH="$work/bin:$PATH" IDSVC_RUN_BUILD="$work/build" \
            "$work/root/tools/run" > "$work/out" 2>&1
    fi
}

# Checks that the last output contains $2; $1 names the case.
expect() {
    if ! grep -qF -- "$2" "$work/out"; then
        echo "FAIL $1: expected \"$2\" in:"
        sed 's/^/    /' "$work/out"
        failures=$((failures + 1))
    fi
}

# Checks that the last output does not contain $2; $1 names the case.
expect_not() {
    if grep -qF -- "$2" "$work/out"; then
        echo "FAIL $1: did not expect \"$2\" in:"
        sed 's/^/    /' "$work/out"
        failures=$((failures + 1))
    fi
}

printf '[server]\nlisten = 127.0.0.1\nport = 18999 ; the demo port\n[rp bank]\nport = 1\n' \
    > "$work/root/state/idsvc.conf"

status=0
start "" || status=$?
expect "unset, status" "daemon started with --config"
expect "unset, note" "using port 18999 from"
expect "unset, banner" "idsvc is running on https://localhost:18999 "
expect "unset, curl" "https://localhost:18999/healthz"
expect_not "unset, default port" "8443"

status=0
start 18999 || status=$?
expect "same port, banner" "idsvc is running on https://localhost:18999 "
expect "same port, status" "daemon started with --config"

status=0
start 18998 || status=$?
if [ "$status" -ne 1 ]; then
    echo "FAIL other port: exit status $status, expected 1"
    failures=$((failures + 1))
fi
expect "other port, reason" "IDSVC_RUN_PORT is 18998, but"
expect "other port, state port" "sets port 18999"
expect_not "other port, daemon" "daemon started"

# A [server] section without port: the daemon's default.
printf '[server]\nlisten = 127.0.0.1\n[rp bank]\nport = 17000\n' > "$work/root/state/idsvc.conf"
status=0
start "" || status=$?
expect "no port key, banner" "idsvc is running on https://localhost:8443 "
expect_not "no port key, other section" "17000"

# Lines that end in CR LF, which the daemon reads too.
printf '[server]\r\nlisten = 127.0.0.1\r\nport = 18997\r\n' > "$work/root/state/idsvc.conf"
status=0
start "" || status=$?
expect "CR LF, banner" "idsvc is running on https://localhost:18997 "
expect_not "CR LF, default port" "8443"

# A daemon that fails to start, as a second one on the same state/ does: no banner, and
# its exit status.
printf '#!/bin/sh\necho "{\\"event\\":\\"start_failed\\"}" >&2\nexit 1\n' \
    > "$work/build/idsvc/idsvc"
status=0
start "" || status=$?
if [ "$status" -ne 1 ]; then
    echo "FAIL failed start: exit status $status, expected 1"
    failures=$((failures + 1))
fi
expect "failed start, log" '"event":"start_failed"'
expect "failed start, reason" "idsvc exited with status 1"
expect_not "failed start, banner" "idsvc is running"
expect_not "failed start, curl" "/healthz"

# SIGTERM to the script's process alone, as a supervisor or `kill` sends it: the script
# passes it on, so the daemon stops and logs its last line, and the script exits with
# the daemon's status. The stub daemon runs until it gets SIGTERM.
cat > "$work/build/idsvc/idsvc" <<'EOF'
#!/bin/sh
echo $$ > "${0%/*}/daemon.pid"
sleep 60 &
sleeper=$!
trap 'kill "$sleeper"; echo "{\"event\":\"stopped\"}" >&2; exit 0' TERM
echo '{"event":"started"}' >&2
wait "$sleeper"
echo '{"event":"not_stopped"}' >&2
exit 3
EOF
rm -f "$work/build/idsvc/daemon.pid"
env -u IDSVC_RUN_PORT PATH="$work/bin:$PATH" IDSVC_RUN_BUILD="$work/build" \
    "$work/root/tools/run" > "$work/out" 2>&1 &
run_pid=$!
tries=0
while ! grep -qF "idsvc is running" "$work/out" && [ "$tries" -lt 100 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
kill -TERM "$run_pid"
status=0
wait "$run_pid" || status=$?
if [ "$status" -ne 0 ]; then
    echo "FAIL SIGTERM: exit status $status, expected 0"
    failures=$((failures + 1))
fi
expect "SIGTERM, banner" "idsvc is running on https://localhost:18997 "
expect "SIGTERM, daemon's last line" '"event":"stopped"'
expect_not "SIGTERM, daemon kept running" '"event":"not_stopped"'
if kill -0 "$(cat "$work/build/idsvc/daemon.pid")" 2>/dev/null; then
    echo "FAIL SIGTERM: the daemon is still running after the script exited"
    kill -TERM "$(cat "$work/build/idsvc/daemon.pid")"
    failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures checks failed"
    exit 1
fi
echo "all checks passed"
