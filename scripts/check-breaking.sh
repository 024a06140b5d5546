#!/usr/bin/env bash
# `buf breaking` against the last release: the newest tag named v<major>.<minor>.<patch>
# reachable from HEAD. Before the first release there is no such tag, and the protos are
# checked against their first committed state (the commit that added proto/orchestrator),
# which holds them to "additive only" from the start.
# Usage: scripts/check-breaking.sh            (npm test runs it: npm run check:breaking)
#        AGAINST=<git ref> scripts/check-breaking.sh   (any other baseline, e.g. main)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${AGAINST:-}" ]]; then
  ref="$AGAINST" what="$AGAINST"
elif ref="$(git describe --tags --abbrev=0 --match 'v[0-9]*.[0-9]*.[0-9]*' HEAD 2>/dev/null)"; then
  what="release $ref"
else
  ref="$(git log --diff-filter=A --format=%H -- proto/orchestrator | tail -1)"
  if [[ -z "$ref" ]]; then
    echo "check-breaking: no release tag and no committed proto/orchestrator: nothing to compare with" >&2
    exit 0
  fi
  what="the first committed protos ($(git log -1 --format=%h "$ref"); no v* release tag yet)"
fi

# A shallow clone may lack the baseline commit: say so instead of buf's fetch error.
if ! git cat-file -e "$ref^{commit}" 2>/dev/null; then
  echo "check-breaking: $ref is not in this clone (shallow?): git fetch --tags --unshallow" >&2
  exit 1
fi
commit="$(git rev-parse "$ref^{commit}")"
if npx --no-install buf breaking --against ".git#ref=$commit"; then
  echo "protos are compatible with $what"
else
  echo "proto changes break compatibility with $what: make them additive (new fields, new messages)." >&2
  exit 1
fi
