#!/usr/bin/env bash
# Two builds of celda on the same command, in pairs: A B, B A, A B, ... (the order flips every
# pair, so a drift of the machine within a pair falls on both alike). For each build it prints
# the median wall, user and system time and peak RSS; then, per pair, B's wall and CPU
# (user + system) time over A's: the median ratio, its range, and in how many pairs B was
# faster. On a noisy shared machine a change of a few percent shows in the paired ratios long
# before it shows in two medians. The alert logs of every run must be identical (`cmp`), or the
# script stops. Not part of .ci/run.
#
# Usage: Benchmarks/ab.sh [--pairs N] BUILD_A BUILD_B ARGS...
#   --pairs N   pairs of runs (default 6)
#   ARGS        celda's arguments, with `--alerts @` where the log goes (each run gets its own)
# Example (the build before a change, saved as /tmp/celda-before, against the current one):
#   Benchmarks/ab.sh --pairs 8 /tmp/celda-before .build/release/celda \
#       analyze dump/cdr.csv --towers dump/towers.csv --alerts @ --threads 2 --quiet
# Needs GNU time (/usr/bin/time).
set -euo pipefail

PAIRS=6
if [ "${1:-}" = "--pairs" ]; then
    PAIRS=$2
    shift 2
fi
if [ $# -lt 3 ]; then
    echo "usage: Benchmarks/ab.sh [--pairs N] BUILD_A BUILD_B ARGS... (--alerts @ in ARGS)" >&2
    exit 64
fi
A=$1
B=$2
shift 2
for arg in "$@"; do [ "$arg" = "@" ] && found=1; done
if [ -z "${found:-}" ]; then
    echo "ab.sh: ARGS need '--alerts @' (each run writes its own log, compared with cmp)" >&2
    exit 64
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

run() { # build label index
    local args=()
    for arg in "${@:4}"; do
        if [ "$arg" = "@" ]; then args+=("$TMP/$2-$3.jsonl"); else args+=("$arg"); fi
    done
    /usr/bin/time -o "$TMP/time" -f "%e %U %S %M" "$1" "${args[@]}" >/dev/null 2>"$TMP/err" || {
        echo "ab.sh: $1 failed:" >&2
        cat "$TMP/err" >&2
        exit 1
    }
    echo "$2 $3 $(cat "$TMP/time")" >>"$TMP/runs"
    if [ ! -f "$TMP/first.jsonl" ]; then
        mv "$TMP/$2-$3.jsonl" "$TMP/first.jsonl"
    elif cmp -s "$TMP/$2-$3.jsonl" "$TMP/first.jsonl"; then
        rm -f "$TMP/$2-$3.jsonl"
    else
        echo "ab.sh: the log of $2's run in pair $3 differs from the first run's" >&2
        exit 1
    fi
}

: >"$TMP/runs"
for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) -eq 1 ]; then
        run "$A" A "$i" "$@"
        run "$B" B "$i" "$@"
    else
        run "$B" B "$i" "$@"
        run "$A" A "$i" "$@"
    fi
    printf '   pair %d: %s\n' "$i" "$(awk -v i="$i" '$2 == i { printf "%s %ss (%s user) ", $1, $3, $4 }' "$TMP/runs")"
done

awk -v pairs="$PAIRS" '
function median(v, n,    i, j, t) {
    for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{ wall[$1, $2] = $3; user[$1, $2] = $4; sys[$1, $2] = $5; rss[$1, $2] = $6 }
END {
    printf "%-6s %10s %10s %10s %12s\n", "build", "wall (s)", "user (s)", "sys (s)", "peak (MB)"
    for (b = 0; b < 2; b++) {
        x = b ? "B" : "A"
        for (i = 1; i <= pairs; i++) { w[i] = wall[x, i]; u[i] = user[x, i]; s[i] = sys[x, i]; r[i] = rss[x, i] / 1024 }
        printf "%-6s %10.2f %10.2f %10.2f %12.0f\n", x, median(w, pairs), median(u, pairs), median(s, pairs), median(r, pairs)
    }
    fw = 0; fc = 0; lo = 1e9; hi = 0; clo = 1e9; chi = 0
    for (i = 1; i <= pairs; i++) {
        rw[i] = wall["B", i] / wall["A", i]
        rc[i] = (user["B", i] + sys["B", i]) / (user["A", i] + sys["A", i])
        if (rw[i] < 1) fw++
        if (rc[i] < 1) fc++
        if (rw[i] < lo) lo = rw[i]; if (rw[i] > hi) hi = rw[i]
        if (rc[i] < clo) clo = rc[i]; if (rc[i] > chi) chi = rc[i]
    }
    printf "B / A wall: median %.3f [%.3f-%.3f], B faster in %d of %d pairs\n", median(rw, pairs), lo, hi, fw, pairs
    printf "B / A CPU:  median %.3f [%.3f-%.3f], B faster in %d of %d pairs\n", median(rc, pairs), clo, chi, fc, pairs
}' "$TMP/runs"
echo "logs: identical in all $((2 * PAIRS)) runs"
