import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MutableRecord, RequestLog } from './records.js';

/** What a responder needs to know about its response's life. */
export interface ResponseWatch {
  /** Aborts when the response closes for any reason: every timer and wait must stop then. */
  readonly signal: AbortSignal;
  /** Destroys the connection abruptly (the 'cut' fault), after `lastWrite` reached the socket. */
  cut(res: ServerResponse, lastWrite: string | Uint8Array): void;
}

/**
 * Settles the record when the response closes. Node emits 'close' on the response both
 * after a finished response and when the socket dies first; `writableFinished` tells the
 * two apart, and a socket we destroyed ourselves is the fault, not the client.
 */
export function watchResponse(
  req: IncomingMessage,
  res: ServerResponse,
  target: { readonly record: MutableRecord; readonly log: RequestLog },
): ResponseWatch {
  const { record, log } = target;
  const controller = new AbortController();
  let cutBySimulator = false;
  const settle = (): void => {
    controller.abort();
    if (res.writableFinished) log.end(record, record.fault === undefined ? 'completed' : 'fault');
    else log.end(record, cutBySimulator ? 'fault' : 'client_closed');
  };
  res.once('close', settle);
  // Writes that race a client close report errors here; the 'close' path already handles it.
  res.on('error', () => undefined);
  // The client may have left while the body was parsed, before 'close' had a listener.
  if (req.socket.destroyed) settle();
  return {
    signal: controller.signal,
    cut(response, lastWrite) {
      cutBySimulator = true;
      const socket = req.socket;
      // Destroy only after earlier writes reached the kernel, so the client really gets
      // the partial answer; an empty socket write calls back once everything before it is out.
      const destroy = (): void => {
        socket.destroy();
      };
      if (lastWrite.length === 0) socket.write('', destroy);
      else response.write(lastWrite, destroy);
    },
  };
}
