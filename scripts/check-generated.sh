#!/usr/bin/env bash
# Fails when src/gen is not exactly what the protos generate (someone edited generated code
# or changed a proto without regenerating).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash "$repo/scripts/generate.sh" "$tmp"
if ! diff -r "$repo/src/gen" "$tmp/src/gen" >"$tmp/diff.txt"; then
  echo "src/gen is out of date with proto/: run 'npm run generate' and commit the result." >&2
  head -40 "$tmp/diff.txt" >&2
  exit 1
fi
echo "src/gen matches proto/"
