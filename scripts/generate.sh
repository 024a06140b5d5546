#!/usr/bin/env bash
# Regenerates everything generated from proto/:
#   src/gen, clients/node/gen    TypeScript messages and grpc-js services (ts-proto; the second
#                                copy is the npm package @llm-orchestrator/client), and the
#                                descriptor set that feeds server reflection
#   clients/go/orchestrator      the Go client package (Debian's protoc-gen-go, protoc-gen-go-grpc)
#   clients/python/src           the Python package llm-orchestrator-client (Debian's protoc,
#                                grpc_python_plugin)
#   examples/python/gen          google.rpc for Python where googleapis-common-protos is missing
# Usage: scripts/generate.sh [ROOT]   (writes under ROOT; ROOT defaults to the repository)
# The Go and Python stubs need Debian packages; without them they are left as they are, and
# the script says so (scripts/check-generated.sh then cannot check them either).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${1:-$repo}"
cd "$repo"
# `clean: true` in buf.gen.yaml empties src/gen first, so nothing stale survives.
npx --no-install buf generate --template buf.gen.yaml --output "$root"
npx --no-install buf build --output "$root/src/gen/descriptor.binpb"

if command -v protoc >/dev/null && command -v protoc-gen-go >/dev/null && command -v protoc-gen-go-grpc >/dev/null; then
  bash "$repo/clients/go/generate.sh" "$root/clients/go"
else
  echo "generate.sh: protoc-gen-go or protoc-gen-go-grpc missing, clients/go not regenerated (apt-get install -y golang-goprotobuf-dev protoc-gen-go-grpc)" >&2
fi
if command -v protoc >/dev/null && command -v grpc_python_plugin >/dev/null; then
  bash "$repo/clients/python/generate.sh" "$root/clients/python"
  bash "$repo/examples/python/generate.sh" "$root/examples/python/gen"
else
  echo "generate.sh: protoc or grpc_python_plugin missing, the Python stubs were not regenerated (apt-get install -y protobuf-compiler protobuf-compiler-grpc)" >&2
fi
