/** The HTTP/1.1 side of the measurements (direct upstream, the peer): undici pools, SSE parsing. */
import { Pool } from 'undici';

export class HttpTarget {
  readonly pool: Pool;

  constructor(
    origin: string,
    private readonly path: string,
    private readonly headers: Readonly<Record<string, string>>,
    connections = 1,
  ) {
    this.pool = new Pool(origin, {
      connections,
      keepAliveTimeout: 120_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** One JSON POST; resolves with the HTTP status once the body is read. */
  async post(body: string, extraHeaders?: Readonly<Record<string, string>>): Promise<number> {
    const res = await this.pool.request({
      method: 'POST',
      path: this.path,
      headers: extraHeaders ? { ...this.headers, ...extraHeaders } : this.headers,
      body,
    });
    await res.body.text();
    return res.statusCode;
  }

  /**
   * One streamed completion (SSE). `onToken` is called for each content delta; returning true
   * cancels the request. Resolves with the HTTP status and the number of content deltas.
   */
  async stream(body: string, onToken: () => unknown, signal?: AbortSignal): Promise<{ status: number; tokens: number }> {
    let tokens = 0;
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: this.headers,
        body,
        ...(signal ? { signal } : {}),
      });
      let buffered = '';
      res.body.setEncoding('utf8');
      for await (const chunk of res.body as AsyncIterable<string>) {
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (event.includes('"delta":{"content":"')) {
            tokens += 1;
            if (onToken() === true) {
              res.body.destroy();
              return { status: res.statusCode, tokens };
            }
          }
        }
      }
      return { status: res.statusCode, tokens };
    } catch (err) {
      if (signal?.aborted) return { status: -1, tokens };
      throw err;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
