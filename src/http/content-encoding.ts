import type { FastifyError, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';

export const UNSUPPORTED_ENCODING = 'UNSUPPORTED_CONTENT_ENCODING';

/** What of a Content-Encoding a refusal names: a header may be kilobytes long, and the message reaches the call line. */
const ENCODING_SHOWN_CHARS = 64;

/**
 * A route's `preParsing` hook: a body with any content coding but `identity` is refused with 415
 * (RFC 9110) before it is read. Fastify parses the bytes as sent, so a gzip-labelled body that
 * happens to be plain JSON would otherwise be taken as if the header were not there.
 */
export function refuseEncodedBody(
  request: FastifyRequest,
  _reply: FastifyReply,
  payload: RequestPayload,
  done: (err: FastifyError | null, payload?: RequestPayload) => void,
): void {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') done(unsupportedEncoding(encoding));
  else done(null, payload);
}

function unsupportedEncoding(encoding: string): FastifyError {
  const shown = encoding.length > ENCODING_SHOWN_CHARS ? `${encoding.slice(0, ENCODING_SHOWN_CHARS)}...` : encoding;
  const err = new Error(`content-encoding ${shown} is not supported: send the body uncompressed`);
  return Object.assign(err, { code: UNSUPPORTED_ENCODING, name: 'FastifyError', statusCode: 415 });
}
