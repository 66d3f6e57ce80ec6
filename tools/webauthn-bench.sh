#!/bin/sh
# Measures WebAuthn verification rates of idsvc's verifier and of @simplewebauthn/server
# on the same inputs, one thread each, in alternating runs (docs/benchmarks.md).
#
# Usage: tools/webauthn-bench.sh [--rounds N] [--seconds S] [--cpu N|none]
#                                [--cases "NAME ..."]
#   --rounds   rounds over every case (default 5); each round alternates which side
#              runs first
#   --seconds  timed seconds per case and side (default 2)
#   --cpu      the CPU that both sides are pinned to with taskset (default 1), or none
#   --cases    only these cases (names as in `idsvc-webauthn-bench list`)
#
# Environment: IDSVC_VECTORS (default ../shared/vectors beside the repository),
# IDSVC_WEBAUTHN_BENCH_BUILD (default build-wabench). Results, the case file and the
# summary go to $IDSVC_WEBAUTHN_BENCH_BUILD/webauthn-bench/.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="${IDSVC_WEBAUTHN_BENCH_BUILD:-$root/build-wabench}"
vectors="${IDSVC_VECTORS:-$root/../shared/vectors}"
node_dir="$root/tools/webauthn-bench"
rounds=5
seconds=2
cpu=1
only=""

while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --cases) only=$2; shift 2 ;;
    *) echo "webauthn-bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ ! -d "$vectors/webauthn" ]; then
    echo "webauthn-bench.sh: no webauthn/ in $vectors; set IDSVC_VECTORS" >&2
    exit 2
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target idsvc-webauthn-bench -j2 >/dev/null
bench="$build/tools/idsvc-webauthn-bench"

if [ -f "$node_dir/package-lock.json" ]; then
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
else
    (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi

out="$build/webauthn-bench"
mkdir -p "$out"
cases="$out/cases.json"
results="$out/results.jsonl"
: >"$results"
"$bench" prepare --vectors "$vectors" --out "$cases"
names=${only:-$("$bench" list --cases "$cases")}

pin=""
if [ "$cpu" != none ]; then
    pin="taskset -c $cpu"
fi

# Prefixes each JSON line with the round number.
tag() {
    sed "s/^{/{\"round\":$1,/" >>"$results"
}

run_idsvc() {
    $pin "$bench" run --cases "$cases" --case "$2" --seconds "$seconds" | tag "$1" || true
}

run_node() {
    $pin node "$node_dir/bench.mjs" --cases "$cases" --case "$2" --seconds "$seconds" |
        tag "$1" || true
}

# Raw verification rates of OpenSSL on the same CPU, for scale.
run_openssl() {
    $pin openssl speed -mr -seconds 1 ecdsap256 rsa2048 ed25519 2>/dev/null | awk -F: -v r="$1" '
        /^\+F2:/ { printf "{\"round\":%s,\"side\":\"openssl\",\"case\":\"RSA-2048 verify\",\"verify_per_s\":%s}\n", r, $5 }
        /^\+F4:/ { printf "{\"round\":%s,\"side\":\"openssl\",\"case\":\"ECDSA P-256 verify\",\"verify_per_s\":%s}\n", r, $5 }
        /^\+F6:/ { printf "{\"round\":%s,\"side\":\"openssl\",\"case\":\"Ed25519 verify\",\"verify_per_s\":%s}\n", r, $6 }
    ' >>"$results"
}

# Busy share of all CPUs between two samples of /proc/stat, in percent.
cpu_sample() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
sample_start=$(cpu_sample)
start_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)

round=1
while [ "$round" -le "$rounds" ]; do
    echo "round $round of $rounds" >&2
    run_openssl "$round"
    for name in $names; do
        if [ $((round % 2)) -eq 1 ]; then
            run_idsvc "$round" "$name"
            run_node "$round" "$name"
        else
            run_node "$round" "$name"
            run_idsvc "$round" "$name"
        fi
    done
    round=$((round + 1))
done

sample_end=$(cpu_sample)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
busy=$(echo "$sample_start $sample_end" | awk '{
    busy = $3 - $1; idle = $4 - $2
    printf "%.0f", 100 * busy / (busy + idle) }')

{
    echo "started $start_time, $rounds rounds of $seconds s per case and side, CPU $cpu"
    echo "machine: $(nproc) CPUs, busy $busy% of the time during the run (this benchmark included)"
    echo "load average at start $load_start, at end $load_end"
    echo "node $(node --version), @simplewebauthn/server" \
        "$(node -p "require('$node_dir/node_modules/@simplewebauthn/server/package.json').version")," \
        "$(openssl version), libfido2 $(pkg-config --modversion libfido2)," \
        "libcbor $(pkg-config --modversion libcbor), jansson $(pkg-config --modversion jansson)"
    echo
    node "$node_dir/summarize.mjs" "$results" "$cases"
} | tee "$out/summary.md"

# A rejected case was not timed, so the run is incomplete.
if grep -q '"rejected"' "$results"; then
    echo "webauthn-bench.sh: some cases were rejected; see the list above" >&2
    exit 1
fi
