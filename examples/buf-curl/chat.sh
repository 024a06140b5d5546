#!/usr/bin/env bash
# ChatService/Chat: one model answers (the x-request-id header comes back in the headers and trailers).
# Usage: [ADDR=host:port] [KEY=api-key] examples/buf-curl/chat.sh [JSON_BODY]    (ADDR defaults to 127.0.0.1:50051)
# Add -v to the buf curl line to see the response headers and trailers (x-request-id, status details).
set -euo pipefail
cd "$(dirname "$0")/../.."   # npx runs the repo's own buf (@bufbuild/buf, a dev dependency)
ADDR="${ADDR:-127.0.0.1:50051}"
auth=()
if [ -n "${KEY:-}" ]; then auth=(-H "authorization: Bearer $KEY"); fi
default='{"model": "gpt-4o-mini", "prompt": "Explain gRPC deadlines in one sentence.", "maxTokens": 200}'
npx --no-install buf curl --protocol grpc --http2-prior-knowledge "${auth[@]}" -H "x-request-id: buf-curl-chat" \
  -d "${1:-$default}" "http://$ADDR/orchestrator.v1.ChatService/Chat"
