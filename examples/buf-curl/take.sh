# Sourced by the streaming scripts: take COUNT BUF_CURL_ARGS... runs `buf curl` on a server
# stream, prints the first COUNT messages, then ends the call (COUNT=0: until the stream ends).
# buf curl prints each message as indented JSON whose last line is a lone "}": those are counted.
# It runs the native buf binary itself: node_modules/.bin/buf is a Node wrapper that spawns it,
# and killing the wrapper would leave buf running with the stream still open.
native_buf() {
  local candidate
  # @bufbuild/buf installs exactly one platform package (buf-linux-x64, buf-darwin-arm64, ...).
  for candidate in node_modules/@bufbuild/buf-*/bin/buf; do
    [[ -x "$candidate" ]] && { printf '%s\n' "$candidate"; return; }
  done
  command -v buf   # a buf installed on PATH (a native binary)
}

take() {
  local count="$1" buf line seen=0 watch watcher errors
  shift
  buf="$(native_buf)"
  if [[ "$count" == 0 ]]; then
    exec "$buf" curl --protocol grpc --http2-prior-knowledge "$@"
  fi
  # buf curl answers the kill that ends the call with a "canceled" status on stderr: kept aside,
  # and shown only when the stream ended before COUNT messages, where it says why.
  errors="$(mktemp)"
  exec {watch}< <(exec "$buf" curl --protocol grpc --http2-prior-knowledge "$@" 2>"$errors")
  watcher=$!
  while (( seen < count )) && IFS= read -r line <&"$watch"; do
    printf '%s\n' "$line"
    [[ "$line" == "}" ]] && seen=$((seen + 1))
  done
  if (( seen < count )); then
    wait "$watcher" 2>/dev/null || true
    cat "$errors" >&2
  fi
  kill "$watcher" 2>/dev/null || true
  exec {watch}<&-
  rm -f "$errors"
  (( seen == count ))
}
