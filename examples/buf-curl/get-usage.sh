#!/usr/bin/env bash
# UsageService/GetUsage: the ledger's totals (requests, errors, tokens, cost, latency), optionally grouped and filtered.
# Usage: [ADDR=host:port] [KEY=api-key] examples/buf-curl/get-usage.sh [JSON_BODY]    (ADDR defaults to 127.0.0.1:50051)
# Add -v to the buf curl line to see the response headers and trailers (x-request-id, status details).
set -euo pipefail
cd "$(dirname "$0")/../.."   # npx runs the repo's own buf (@bufbuild/buf, a dev dependency)
ADDR="${ADDR:-127.0.0.1:50051}"
auth=()
if [ -n "${KEY:-}" ]; then auth=(-H "authorization: Bearer $KEY"); fi
default='{}'
npx --no-install buf curl --protocol grpc --http2-prior-knowledge "${auth[@]}" \
  -d "${1:-$default}" "http://$ADDR/orchestrator.v1.UsageService/GetUsage"
