#!/usr/bin/env bash
# Regenerates everything under src/gen from proto/: the TypeScript messages and grpc-js service
# definitions (ts-proto) and the descriptor set that feeds server reflection.
# Usage: scripts/generate.sh [ROOT]   (writes ROOT/src/gen; ROOT defaults to the repository)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${1:-$repo}"
cd "$repo"
# `clean: true` in buf.gen.yaml empties src/gen first, so nothing stale survives.
npx --no-install buf generate --template buf.gen.yaml --output "$root"
npx --no-install buf build --output "$root/src/gen/descriptor.binpb"
# The Python example's stubs too, where Debian's protoc and grpc_python_plugin are installed
# (test/integration/python-client.test.ts checks they match).
if [ "$root" = "$repo" ] && command -v protoc >/dev/null && command -v grpc_python_plugin >/dev/null; then
  bash "$repo/examples/python/generate.sh"
fi
