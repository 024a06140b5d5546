import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An upstream of our own on a free loopback port: each request's JSON body is kept, in
 * arrival order, and handed to `answer`, which writes the response. For provider tests that
 * control what the upstream answers and check what the provider sent.
 */
export interface RecordingUpstream {
  /** `http://127.0.0.1:<port>/v1`, an OpenAI-compatible provider's base URL. */
  readonly baseURL: string;
  readonly bodies: readonly Record<string, unknown>[];
  close(): Promise<void>;
}

export type UpstreamAnswer = (body: Record<string, unknown>, res: http.ServerResponse) => void;

export async function startRecordingUpstream(answer: UpstreamAnswer): Promise<RecordingUpstream> {
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      answer(body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
