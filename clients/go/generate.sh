#!/usr/bin/env bash
# Regenerates the Go client package clients/go/orchestrator/v1 from proto/.
#
# Usage: clients/go/generate.sh [OUT]    (OUT defaults to clients/go)
#
# Needs Debian's protoc and Go plugins (GOPATH mode, no module downloads):
#   apt-get install -y protobuf-compiler golang-goprotobuf-dev protoc-gen-go-grpc
# protoc-gen-go 1.3.5 writes the messages (github.com/golang/protobuf API), protoc-gen-go-grpc
# the service clients (*_grpc.pb.go). google/rpc types come from google.golang.org/genproto
# (golang-google-genproto-dev), as the go_package options of the vendored protos say.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
protoc="${PROTOC:-protoc}"

for tool in "$protoc" protoc-gen-go protoc-gen-go-grpc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "generate.sh needs $tool: apt-get install -y protobuf-compiler golang-goprotobuf-dev protoc-gen-go-grpc" >&2
    exit 1
  fi
done

mkdir -p "$out"
# Only the folder this script owns, so a stale file never survives.
rm -rf "$out/orchestrator"
# protoc's well-known types name the newer google.golang.org/protobuf packages; Debian's
# golang/protobuf 1.3.5 ships them as ptypes.
wkt="Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp"
wkt="$wkt,Mgoogle/protobuf/duration.proto=github.com/golang/protobuf/ptypes/duration"
wkt="$wkt,Mgoogle/protobuf/struct.proto=github.com/golang/protobuf/ptypes/struct"
cd "$repo/proto"
"$protoc" -I . \
  --plugin=protoc-gen-go="$here/protoc-gen-go-proto3-optional" \
  --go_out=paths=source_relative,"$wkt":"$out" \
  --go-grpc_out=paths=source_relative,"$wkt":"$out" \
  orchestrator/v1/*.proto
