#!/usr/bin/env bash
# Health/Watch: the current status, then every change (NOT_SERVING on SIGTERM) until the server ends it. Ctrl-C to stop.
# Usage: [ADDR=host:port] [COUNT=n] examples/buf-curl/health-watch.sh [JSON_BODY]    (ADDR defaults to 127.0.0.1:50051)
# COUNT=n stops after n statuses (COUNT=1: just the current one); the default, 0, watches until the end.
# Add -v to the buf curl line to see the response headers and trailers (x-request-id, status details).
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/buf-curl/take.sh
ADDR="${ADDR:-127.0.0.1:50051}"
default='{"service": "orchestrator.v1.ChatService"}'
take "${COUNT:-0}" -d "${1:-$default}" "http://$ADDR/grpc.health.v1.Health/Watch"
