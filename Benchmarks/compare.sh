#!/usr/bin/env bash
# Celda side by side with what an analyst would use instead, on the same files in one run:
#   - CDR dumps: `celda analyze` (every detector, 2 threads and 1 thread) against DuckDB and
#     polars running the sliding 1 h / 10 min per-caller window over prison-tower calls
#     (shared/research/perf-anchors.md `detect_hop`, in Benchmarks/compare/);
#   - captures: `celda calls` against `tshark -q -z sip,stat`.
# Runs alternate (A B C A B C ...) so machine drift hits every tool alike; the table shows the
# median wall time, min-max, rows (packets) per second, peak RSS and the ratio to celda.
# Not part of .ci/run.
#
# Usage: Benchmarks/compare.sh [--rows N] [--big] [--runs R] [--tshark-runs T] [--dir DIR] [--skip-pcap]
#   --rows N     rows of the main dump (default 10,000,000, one day)
#   --big        also a 50,000,000-row dump (five days; about 6 GB and several minutes to make)
#   --runs R     runs per tool (default 3)
#   --tshark-runs T  runs of tshark (default 1: tshark takes minutes on the 1M-packet capture)
#   --dir DIR    scratch directory for data and the Python environment (default /tmp/celda-compare)
# Needs: python3 with venv (DuckDB and polars are installed from PyPI into DIR/venv), tshark
# (apt-get install -y tshark), GNU time (/usr/bin/time).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=/tmp/celda-compare
ROWS=10000000
BIG=0
RUNS=3
TSHARK_RUNS=1
PCAP=1
while [ $# -gt 0 ]; do
    case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --big) BIG=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --tshark-runs) TSHARK_RUNS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --skip-pcap) PCAP=0; shift ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done
mkdir -p "$DIR"
RESULTS="$DIR/results.tsv"
: >"$RESULTS"

echo "== building celda (release)"
swift build -c release --package-path "$ROOT" >/dev/null
CELDA="$ROOT/.build/release/celda"

if [ ! -x "$DIR/venv/bin/python" ]; then
    echo "== installing duckdb and polars into $DIR/venv"
    python3 -m venv "$DIR/venv"
    "$DIR/venv/bin/pip" install -q duckdb polars pytz
fi
PY="$DIR/venv/bin/python"
PRISONS="$ROOT/Samples/prisons/mexico.csv"

make_dump() { # name rows days
    if [ ! -f "$DIR/$1/cdr.csv" ]; then
        echo "== celda synth: $2 rows over $3 day(s) -> $DIR/$1"
        /usr/bin/time -f "   made in %e s, peak %M KB" "$CELDA" synth --rows "$2" --days "$3" --seed 42 \
            --out "$DIR/$1" --no-gzip
    fi
}

run() { # label data file command...
    local label=$1 data=$2 file=$3
    shift 3
    cat "$file" >/dev/null # page cache warm, as in perf-anchors.md
    local out
    if ! /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/stderr.txt"; then
        echo "compare.sh: $label failed:" >&2
        tail -3 "$DIR/stderr.txt" >&2
        exit 1
    fi
    out=$(tail -1 "$DIR/time.txt")
    echo "$label	$data	$out" >>"$RESULTS"
    echo "   $label on $data: ${out% *} s, $(( ${out#* } / 1024 )) MB"
}

bench_dump() { # name
    local d="$DIR/$1"
    for r in $(seq "$RUNS"); do
        echo "== run $r/$RUNS on $1"
        run "celda 2 threads" "$1" "$d/cdr.csv" "$CELDA" analyze "$d/cdr.csv" --towers "$d/towers.csv" \
            --alerts "$d/alerts.jsonl" --quiet --threads 2
        run "duckdb (2 threads)" "$1" "$d/cdr.csv" "$PY" "$ROOT/Benchmarks/compare/detect_duckdb.py" "$d/cdr.csv" \
            "$d/towers.csv" "$PRISONS" 2
        run "polars (2 threads)" "$1" "$d/cdr.csv" "$PY" "$ROOT/Benchmarks/compare/detect_polars.py" "$d/cdr.csv" \
            "$d/towers.csv" "$PRISONS" 2
        run "celda 1 thread" "$1" "$d/cdr.csv" "$CELDA" analyze "$d/cdr.csv" --towers "$d/towers.csv" \
            --alerts "$d/alerts-1.jsonl" --quiet --threads 1
    done
    cmp -s "$d/alerts.jsonl" "$d/alerts-1.jsonl" && echo "   celda logs for 1 and 2 threads are identical"
}

make_dump 10m "$ROWS" 1
bench_dump 10m
if [ "$BIG" = 1 ]; then
    make_dump 50m 50000000 5
    bench_dump 50m
fi

if [ "$PCAP" = 1 ]; then
    if [ ! -f "$DIR/pcap/capture.pcap" ]; then
        echo "== celda synth --pcap: about 1,000,000 packets -> $DIR/pcap"
        "$CELDA" synth --pcap --calls 150000 --days 1 --seed 42 --out "$DIR/pcap"
    fi
    if command -v tshark >/dev/null; then
        for r in $(seq "$RUNS"); do
            echo "== run $r/$RUNS on the capture"
            run "celda calls" pcap "$DIR/pcap/capture.pcap" "$CELDA" calls "$DIR/pcap/capture.pcap" -o /dev/null --quiet
            if [ "$r" -le "$TSHARK_RUNS" ]; then
                run "tshark -z sip,stat" pcap "$DIR/pcap/capture.pcap" tshark -q -r "$DIR/pcap/capture.pcap" -z sip,stat
            fi
        done
    else
        echo "== tshark not found: apt-get install -y tshark (capture comparison skipped)"
    fi
fi

# Table: medians, ranges, rates and ratios to celda (2 threads; `celda calls` for captures).
rows_of() { case "$1" in 10m) echo "$ROWS" ;; 50m) echo 50000000 ;; pcap) "$PY" - "$DIR/pcap/capture.pcap" <<'EOF'
import struct, sys
n = 0
with open(sys.argv[1], "rb") as f:
    f.read(24)
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        n += 1
        f.seek(struct.unpack("<I", h[8:12])[0], 1)
print(n)
EOF
;; esac; }
echo
echo "| tool | data | wall median (s) [min-max] | rows or packets /s | peak RSS (MB) | vs celda |"
echo "|---|---|---|---|---|---|"
for data in $(cut -f2 "$RESULTS" | sort -u); do
    n=$(rows_of "$data")
    "$PY" - "$RESULTS" "$data" "$n" <<'EOF'
import statistics, sys
path, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = {}
for line in open(path):
    label, d, wall_rss = line.rstrip("\n").split("\t")
    if d != data:
        continue
    wall, rss = wall_rss.split()
    runs.setdefault(label, []).append((float(wall), int(rss)))
base_label = "celda calls" if data == "pcap" else "celda 2 threads"
base = statistics.median(w for w, _ in runs[base_label])
for label, rs in runs.items():
    walls = [w for w, _ in rs]
    med = statistics.median(walls)
    print(f"| {label} | {data} | {med:.2f} [{min(walls):.2f}-{max(walls):.2f}] | {n / med:,.0f} | "
          f"{max(r for _, r in rs) // 1024} | {med / base:.2f}x |")
EOF
done
