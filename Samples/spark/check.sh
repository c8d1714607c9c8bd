#!/usr/bin/env bash
# The Spark job gives the single-process log byte for byte.
#
#   Samples/spark/check.sh CELDA [WORKDIR]
#
# CELDA is the binary to ship (`--static-swift-stdlib -Xswiftc -static-executable`). Needs
# `spark-submit` on PATH (pip install pyspark) and Java 17. Checks, each printed PASS or FAIL:
#   - the binary needs no Swift runtime library, no libpcap, nothing beyond glibc (readelf -d);
#   - it starts and runs its Spark modes where libpcap is absent (unshare --mount, /dev/null
#     bound over every libpcap.so), and reading a capture there fails with a clear message;
#   - on a generated dump with planted rings (every detector fires), `celda analyze` and the job
#     in local[2] at 1 and 7 partitions (gzip CSV) and 7 partitions (Parquet) write the same log;
#   - a celda failure fails the job.
# CELDA_SPARK_WRONG_KEY=FAMILY distributes that family by another family's key: the logs must
# then differ and this script fail (the test's teeth). Ends with "N passed, N failed".
set -uo pipefail

celda=$(readlink -f "${1:?usage: check.sh CELDA [WORKDIR]}")
here=$(cd "$(dirname "$0")" && pwd)
work=${2:-$(mktemp -d /tmp/celda-spark-check.XXXXXX)}
mkdir -p "$work"
work=$(readlink -f "$work")
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# Java 17 explicitly (a stray JAVA_HOME could name another JDK); loopback only.
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"17\.'; then
    for j in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk*; do
        if [ -x "$j/bin/java" ]; then export JAVA_HOME=$j; break; fi
    done
fi
export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$(command -v python3)}
command -v spark-submit >/dev/null || { echo "FAIL: spark-submit is not on PATH"; echo "0 passed, 1 failed"; exit 1; }

echo "binary: $celda ($(du -h "$celda" | cut -f1))"
needed=$(readelf -d "$celda" | awk '/NEEDED/ {print $NF}' | tr -d '[]' | tr '\n' ' ')
echo "needed: $needed"
if echo "$needed" | grep -Eq 'libswift|libFoundation|libdispatch|libBlocksRuntime'; then
    fail "the binary needs a Swift runtime library: $needed"
elif echo "$needed" | grep -q libpcap; then
    fail "the binary needs libpcap at start-up: $needed"
else
    pass "no Swift runtime library and no libpcap among the binary's needed libraries"
fi
extra=$(echo "$needed" | tr ' ' '\n' | grep -Ev '^(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2|)$' | tr '\n' ' ')
if [ -z "$extra" ]; then
    pass "the binary needs nothing beyond glibc (needed: ${needed:-none, a static executable})"
else
    fail "the binary needs libraries beyond glibc: $extra"
fi

# A tiny capture and a tiny dump, for the run without libpcap.
"$celda" synth --pcap --calls 1000 --out "$work/pcap" >/dev/null 2>&1
printf '0\t0\tc1\t2026-01-19T00:00:25-06:00\t+528110059667\t+525504780100\t37\t334-020-1-2\n' >"$work/one.tsv"
pcaplibs=$( (ldconfig -p 2>/dev/null | awk '/libpcap\.so/ {print $NF}'; ls /usr/lib/*/libpcap.so* /lib/*/libpcap.so* 2>/dev/null) | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    out=$(unshare --mount bash -c '
        set -e
        for l in '"$pcaplibs"'; do [ -e "$l" ] && mount --bind /dev/null "$l"; done
        "$0" spark normalize --columns call_id,start_time,caller,callee,duration_s,cell_id <"$1/one.tsv" | head -1 | cut -c1-2
        "$0" spark family --family tower --ticks /dev/null </dev/null | cut -c1 | sort -u | tr -d "\n"
        echo " family ok"
        "$0" spark finish </dev/null && echo "finish ok"
        "$0" analyze "$1/pcap/capture.pcap" --alerts /dev/null --quiet 2>&1 && echo "capture read" || true
    ' "$celda" "$work" 2>&1)
    echo "$out" | sed 's/^/  without libpcap: /'
    if echo "$out" | head -1 | grep -q '^R' && echo "$out" | grep -q '^CF family ok' && echo "$out" | grep -q 'finish ok' \
        && echo "$out" | grep -qi 'libpcap' && ! echo "$out" | grep -q 'capture read'; then
        pass "normalize, family and finish run with libpcap hidden ($pcaplibs); a capture then fails naming libpcap"
    else
        fail "run without libpcap"
    fi
else
    fail "needs root and unshare to hide libpcap"
fi

# The dump: three days, rings planted in two prisons, look-alikes.
"$celda" synth --out "$work/dump" --rows "${CELDA_SPARK_ROWS:-50000}" --days 3 --seed 11 >/dev/null
dump=$work/dump/cdr.csv.gz
t0=$(date +%s.%N)
"$celda" analyze "$dump" --towers "$work/dump/towers.csv" --alerts "$work/single.jsonl" \
    --summary-json "$work/single-summary.json" --quiet --threads 1
t1=$(date +%s.%N)
echo "single process: $(wc -l <"$work/single.jsonl") alerts in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s"
missing=$(python3 - "$work/single-summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
want = ["burst", "sequential", "victim", "tower-surge", "sim-churn", "alliance"]
gaps = [d for d in want if s["alerts_by_detector"].get(d, 0) < 1]
if s["records_late"]:
    gaps.append(f"{s['records_late']} late records")
print(" ".join(gaps))
EOF
)
if [ -z "$missing" ]; then pass "every detector fires in the single-process log, no late record"; else fail "dump: $missing"; fi

cp "$work/dump/towers.csv" "$work/towers.csv"
wrong=()
[ -n "${CELDA_SPARK_WRONG_KEY:-}" ] && wrong=(--wrong-key "$CELDA_SPARK_WRONG_KEY")
job() { # name input partitions [extra job args]
    local name=$1 input=$2 parts=$3
    shift 3
    local s e
    s=$(date +%s.%N)
    spark-submit --master 'local[2]' --driver-memory 2g --conf spark.ui.enabled=false \
        --conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1 \
        --files "$celda,$work/towers.csv" "$here/celda_spark.py" --input "$input" --towers towers.csv \
        --out "$work/$name" --partitions "$parts" "${wrong[@]}" "$@" >"$work/$name.log" 2>&1
    local rc=$?
    e=$(date +%s.%N)
    echo "  $name: exit $rc, $(awk "BEGIN {printf \"%.1f\", $e - $s}") s wall (log: $work/$name.log)"
    return $rc
}
compare() { # name
    if [ -f "$work/$1/alerts.jsonl" ] && cmp -s "$work/$1/alerts.jsonl" "$work/single.jsonl"; then
        pass "$1: EQUAL to the single-process log ($(wc -l <"$work/single.jsonl") alerts, byte for byte)"
    else
        fail "$1: DIFFERENT from the single-process log"
        if [ -f "$work/$1/alerts.jsonl" ]; then
            diff <(cut -c1-160 "$work/single.jsonl") <(cut -c1-160 "$work/$1/alerts.jsonl") | head -6
        else
            grep -E 'celda|Error|error' "$work/$1.log" | grep -v '^\s*at ' | head -8
        fi
    fi
}

for parts in 1 7; do
    job "spark-csv-$parts" "$dump" "$parts"
    compare "spark-csv-$parts"
done
if spark-submit --master 'local[2]' "$here/to_parquet.py" "$dump" "$work/cdr.parquet" >"$work/parquet.log" 2>&1; then
    job spark-parquet-7 "$work/cdr.parquet" 7
    compare spark-parquet-7
else
    fail "could not write the Parquet copy (log: $work/parquet.log)"
fi

# A celda failure (here: an unreadable --config) fails the job.
if job spark-failure "$dump" 2 --config no-such-config.toml; then
    fail "the job succeeded although celda failed"
elif grep -q 'celda: --config' "$work/spark-failure.log"; then
    pass "a celda failure fails the job, with celda's message in the error"
else
    fail "the job failed, but not with celda's message"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
