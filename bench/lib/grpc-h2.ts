/**
 * A lean gRPC client on node:http2 for the measurements: the request frame is encoded once,
 * and the client does no interceptors, metadata objects or per-call channel work, so its own
 * cost (and noise) stays close to the plain HTTP client used for the direct rows.
 */
import http2 from 'node:http2';

/** gRPC length-prefixed framing: flag byte 0, 4-byte big-endian length, message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

export interface UnaryResult {
  readonly grpcStatus: number;
  readonly message: Buffer | undefined;
}

export class GrpcH2Client {
  private readonly sessions: http2.ClientHttp2Session[] = [];
  private next = 0;

  constructor(
    private readonly authority: string,
    sessions = 1,
  ) {
    for (let i = 0; i < sessions; i++) this.sessions.push(this.connect());
  }

  private connect(): http2.ClientHttp2Session {
    const session = http2.connect(this.authority, { settings: { initialWindowSize: 1 << 20 } });
    session.on('error', () => undefined);
    session.once('connect', () => session.setLocalWindowSize(8 << 20));
    return session;
  }

  private session(): http2.ClientHttp2Session {
    const index = this.next++ % this.sessions.length;
    let s = this.sessions[index]!;
    if (s.closed || s.destroyed) {
      s = this.connect();
      this.sessions[index] = s;
    }
    return s;
  }

  private open(path: string, frame: Buffer): http2.ClientHttp2Stream {
    const stream = this.session().request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.end(frame);
    return stream;
  }

  /** One unary call; resolves with the grpc-status and the response message bytes. */
  unary(path: string, frame: Buffer): Promise<UnaryResult> {
    return new Promise((resolve, reject) => {
      const stream = this.open(path, frame);
      const chunks: Buffer[] = [];
      let status: number | undefined;
      watchStatus(stream, (code) => {
        status = code;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('close', () => {
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        resolve({ grpcStatus: status ?? -1, message: body.length >= 5 ? body.subarray(5) : undefined });
      });
    });
  }

  /**
   * A server-streaming call. `onMessage` gets each message (without the prefix) and may return
   * true to cancel the call. Resolves with the grpc-status (-1 when cancelled or reset).
   */
  serverStream(path: string, frame: Buffer, onMessage: (message: Buffer) => unknown): { done: Promise<number>; cancel(): void } {
    const stream = this.open(path, frame);
    const done = new Promise<number>((resolve) => {
      let status: number | undefined;
      let pending: Buffer = Buffer.alloc(0);
      watchStatus(stream, (code) => {
        status = code;
      });
      stream.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        while (pending.length >= 5) {
          const length = pending.readUInt32BE(1);
          if (pending.length < 5 + length) break;
          const message = pending.subarray(5, 5 + length);
          pending = pending.subarray(5 + length);
          if (onMessage(message) === true) {
            stream.close(http2.constants.NGHTTP2_CANCEL);
            return;
          }
        }
      });
      stream.on('error', () => undefined);
      stream.on('close', () => resolve(status ?? -1));
    });
    return { done, cancel: () => stream.close(http2.constants.NGHTTP2_CANCEL) };
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }
}

/** Reports the grpc-status of a call, from the headers (trailers-only answers) or the trailers. */
function watchStatus(stream: http2.ClientHttp2Stream, onStatus: (code: number) => void): void {
  const read = (headers: http2.IncomingHttpHeaders): void => {
    const s = headers['grpc-status'];
    if (s !== undefined) onStatus(Number(s));
  };
  stream.on('response', read);
  stream.on('trailers', read);
}
