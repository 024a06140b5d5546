import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Bodies larger than this are refused: the simulator is a test double, not a sink. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface OpenAiErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: string | null;
  };
}

export interface ErrorFields {
  readonly type: string;
  readonly param?: string | null;
  readonly code?: string | null;
}

/** The `{ error: { message, type, param, code } }` shape the openai SDK decodes. */
export function errorBody(message: string, fields: ErrorFields): OpenAiErrorBody {
  return {
    error: { message, type: fields.type, param: fields.param ?? null, code: fields.code ?? null },
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

export type BodyResult = { readonly kind: 'ok'; readonly text: string } | { readonly kind: 'too_large' } | { readonly kind: 'aborted' };

/** Reads the whole request body; a client that goes away mid-body yields `aborted`. */
export async function readBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      size += buffer.length;
      if (size > MAX_BODY_BYTES) return { kind: 'too_large' };
      chunks.push(buffer);
    }
  } catch {
    return { kind: 'aborted' };
  }
  return { kind: 'ok', text: Buffer.concat(chunks, size).toString('utf8') };
}
