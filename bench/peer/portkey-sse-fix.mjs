// Loaded into the Portkey peer only (node --import), and only so that its streaming works on
// Node 20: @portkey-ai/gateway 1.15.2 wraps the upstream fetch Response with
// `new Response(body, upstreamResponse)`; @hono/node-server's Response then reuses the
// upstream's immutable Headers, and Portkey's `headers.append(...)` throws "TypeError:
// immutable" ("Something went wrong" for every stream). This gives SSE responses (only those)
// mutable headers. Unary responses are returned untouched, so the unary rows are stock Portkey.
const original = globalThis.fetch;
globalThis.fetch = async function fetchWithMutableSseHeaders(input, init) {
  const response = await original(input, init);
  const type = response.headers.get('content-type');
  if (type === null || !type.startsWith('text/event-stream')) return response;
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: new Headers(response.headers),
  });
};
