#!/usr/bin/env bash
# CPU time of each thread of one command, by thread name: celda names its threads
# (celda-decode, celda-lane, celda-capture; the main thread keeps the program's name), so this
# shows which part of a run is the bottleneck. It samples /proc/PID/task/*/stat every 0.2 s and
# keeps each thread's last reading, so a figure can be up to 0.2 s short.
#
# Usage: Benchmarks/threads.sh COMMAND [ARGS...]
#   Benchmarks/threads.sh .build/release/celda analyze dump.csv --towers towers.csv \
#       --alerts /dev/null --threads 2 --quiet
# Prints one line per thread (tid, name, user+system seconds), then the command's exit status.
set -uo pipefail

if [ $# -eq 0 ]; then
    echo "usage: Benchmarks/threads.sh COMMAND [ARGS...]" >&2
    exit 2
fi

"$@" &
pid=$!
hz=$(getconf CLK_TCK)
declare -A ticks names
while kill -0 "$pid" 2>/dev/null; do
    for task in /proc/"$pid"/task/*; do
        tid=${task##*/}
        stat=$(cat "$task/stat" 2>/dev/null) || continue
        name=$(cat "$task/comm" 2>/dev/null) || continue
        # Fields after the parenthesised name: state is 1, utime 12, stime 13.
        read -r -a f <<<"${stat##*) }"
        ticks[$tid]=$((f[11] + f[12]))
        names[$tid]=$name
    done
    sleep 0.2
done
wait "$pid"
status=$?
for tid in "${!ticks[@]}"; do
    awk -v t="$tid" -v n="${names[$tid]}" -v c="${ticks[$tid]}" -v hz="$hz" \
        'BEGIN { printf "%s %s %.2f s\n", t, n, c / hz }'
done | sort -n
echo "exit status $status"
exit "$status"
