#!/usr/bin/env bash
# Regenerates the committed sample dump, its towers and its truth with `celda synth`.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
swift run -q celda synth --out "$tmp" --seed 2026 --rows 50000 --days 1
cp "$tmp/cdr.csv.gz" Samples/cdr/sample.csv.gz
cp "$tmp/truth.json" Samples/cdr/sample-truth.json
cp "$tmp/towers.csv" Samples/towers/sample-towers.csv
ls -l Samples/cdr Samples/towers
