#!/usr/bin/env bash
# Regenerates the Python package llm-orchestrator-client (clients/python/src) from proto/.
#
# Usage: clients/python/generate.sh [OUT]    (writes OUT/src; OUT defaults to clients/python)
#
# Needs Debian's protoc (3.21, supports proto3 `optional`) and grpc_python_plugin:
#   apt-get install -y protobuf-compiler protobuf-compiler-grpc
# Do not use python3-grpc-tools' bundled protoc: it is too old for proto3 `optional`.
#
# Only our own package, orchestrator.v1: messages (_pb2.py), their type stubs (_pb2.pyi) and
# the service stubs (_pb2_grpc.py). google.rpc comes from googleapis-common-protos (a declared
# dependency); grpc.health.v1 from grpcio-health-checking. Generating those here would clash
# with them, and a generated `grpc/` folder would shadow the grpc module itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here}/src"
protoc="${PROTOC:-protoc}"
plugin="${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}"

if ! command -v "$protoc" >/dev/null 2>&1 || [[ -z "$plugin" ]]; then
  echo "generate.sh needs protoc and grpc_python_plugin: apt-get install -y protobuf-compiler protobuf-compiler-grpc" >&2
  exit 1
fi

mkdir -p "$out"
# Only the folder this script owns, so a stale file never survives.
rm -rf "$out/orchestrator"
cd "$repo/proto"
"$protoc" -I . --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" --plugin=protoc-gen-grpc_python="$plugin" orchestrator/v1/*.proto
# PEP 561: type checkers read the .pyi stubs of an installed package only with this marker.
: >"$out/orchestrator/v1/py.typed"
