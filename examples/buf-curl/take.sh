# Sourced by the streaming scripts: take COUNT BUF_CURL_ARGS... runs `buf curl` on a server
# stream, prints the first COUNT messages, then ends the call (COUNT=0: until the stream ends).
# buf curl prints each message as indented JSON whose last line is a lone "}": those are counted.
# It runs buf itself (not through npx) so that ending it closes the stream at once.
take() {
  local count="$1" buf line seen=0 watch watcher
  shift
  buf="$(npx --no-install -c 'command -v buf')"   # the repo's own buf (@bufbuild/buf, a dev dependency)
  if [[ "$count" == 0 ]]; then
    exec "$buf" curl --protocol grpc --http2-prior-knowledge "$@"
  fi
  exec {watch}< <(exec "$buf" curl --protocol grpc --http2-prior-knowledge "$@")
  watcher=$!
  while (( seen < count )) && IFS= read -r line <&"$watch"; do
    printf '%s\n' "$line"
    [[ "$line" == "}" ]] && seen=$((seen + 1))
  done
  kill "$watcher" 2>/dev/null || true
  exec {watch}<&-
  # Fewer messages than asked: the stream ended early (buf curl printed the error).
  (( seen == count ))
}
