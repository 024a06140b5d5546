#!/usr/bin/env bash
# Fails when anything generated from proto/ is not exactly what the protos generate (someone
# edited generated code or changed a proto without regenerating): src/gen, the Go client
# package and the Python stubs (the last two where their generators are installed).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash "$repo/scripts/generate.sh" "$tmp"
status=0
for dir in src/gen clients/node/gen clients/go/orchestrator clients/python/src examples/python/gen; do
  [ -d "$tmp/$dir" ] || continue
  if ! diff -r -x __pycache__ "$repo/$dir" "$tmp/$dir" >"$tmp/diff.txt"; then
    echo "$dir is out of date with proto/: run 'npm run generate' and commit the result." >&2
    head -40 "$tmp/diff.txt" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "generated code matches proto/"
exit "$status"
