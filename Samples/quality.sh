#!/usr/bin/env bash
# Detection quality over several synthetic worlds: synth → analyze → eval, one line per seed.
# Usage: Samples/quality.sh [SEEDS...]   (default 1 2 3 4 5; 120,000 rows over 3 days each)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product celda >/dev/null
bin=.build/release/celda
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5)
printf '%-6s %-17s %-17s %-17s %-9s %-9s %-7s %-10s\n' seed "line P/R" "victim P/R" "device P/R" tower pair slow lookalikes
for s in "${seeds[@]}"; do
    "$bin" synth --out "$tmp/$s" --seed "$s" --rows 120000 --days 3 2>/dev/null
    "$bin" analyze "$tmp/$s/cdr.csv.gz" --towers "$tmp/$s/towers.csv" --alerts "$tmp/$s/a.jsonl" --quiet
    "$bin" eval --truth "$tmp/$s/truth.json" "$tmp/$s/a.jsonl" --json "$tmp/$s/q.json" >/dev/null
    python3 - "$s" "$tmp/$s/q.json" <<'PY'
import json, sys
q = json.load(open(sys.argv[2]))
pr = lambda k: f"{q[k]['precision']:.3f}/{q[k]['recall']:.3f}"
print(f"{sys.argv[1]:<6} {pr('line'):<17} {pr('victim'):<17} {pr('device'):<17} "
      f"{q['tower']['recall']:<9.3f} {q['prison-pair']['recall']:<9.3f} "
      f"{q['slow_lines_found']}/{q['slow_lines']:<5} {q['lookalikes_flagged']}/{q['lookalikes']}")
PY
done
