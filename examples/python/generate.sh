#!/usr/bin/env bash
# Regenerates the google.rpc stubs in examples/python/gen from proto/google/rpc: for Debian,
# which ships no googleapis-common-protos. Our own stubs are the package in clients/python
# (clients/python/generate.sh).
#
# Usage: examples/python/generate.sh [OUT]    (OUT defaults to examples/python/gen)
#
# Needs Debian's protoc (3.21, supports proto3 `optional`) and grpc_python_plugin:
#   apt-get install -y protobuf-compiler protobuf-compiler-grpc
# Do not use python3-grpc-tools' bundled protoc: it is too old for proto3 `optional`.
#
# google/rpc/*.proto: messages only. chat_pb2 imports google/rpc/status_pb2, and the client
# decodes ErrorInfo/BadRequest/RetryInfo from error_details_pb2. `google/` has no __init__.py
# on either side, so it merges with the installed google.protobuf (a namespace package).
# NOT grpc/health/v1: a generated `grpc/` folder would shadow the grpc module itself.
# google/protobuf/*.proto (timestamp, duration, any) come with the protobuf runtime.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here/gen}"
protoc="${PROTOC:-protoc}"
plugin="${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}"

if ! command -v "$protoc" >/dev/null 2>&1 || [[ -z "$plugin" ]]; then
  echo "generate.sh needs protoc and grpc_python_plugin: apt-get install -y protobuf-compiler protobuf-compiler-grpc" >&2
  exit 1
fi

mkdir -p "$out"
# Only the folders this script owns, so a stale file never survives and nothing else is touched.
rm -rf "$out/orchestrator" "$out/google"
cd "$repo/proto"
"$protoc" -I . --python_out="$out" google/rpc/*.proto
