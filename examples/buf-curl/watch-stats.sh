#!/usr/bin/env bash
# StatsService/WatchStats: a stats snapshot every intervalMs (the first at once); stops after COUNT snapshots.
# Usage: [ADDR=host:port] [KEY=api-key] [COUNT=3] examples/buf-curl/watch-stats.sh [JSON_BODY]    (ADDR defaults to 127.0.0.1:50051)
# COUNT=0 watches until Ctrl-C, or until the server drains (the stream then ends with UNAVAILABLE).
# Add -v to the buf curl line to see the response headers and trailers (x-request-id, status details).
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/buf-curl/take.sh
ADDR="${ADDR:-127.0.0.1:50051}"
auth=()
if [ -n "${KEY:-}" ]; then auth=(-H "authorization: Bearer $KEY"); fi
default='{"intervalMs": 1000}'
take "${COUNT:-3}" "${auth[@]}" -d "${1:-$default}" "http://$ADDR/orchestrator.v1.StatsService/WatchStats"
