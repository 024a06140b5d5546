import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { TlsHandshakes } from '../domain/tls-handshakes.js';

/** Published by node:http as each response finishes, before its connection is free again. */
const RESPONSE_FINISH = 'http.server.response.finish';

/**
 * Closes the connections of a closing server as soon as they are idle. `server.close()` ends only
 * the keep-alive connections idle at that moment: not one that never sent a request (a pooled
 * connection a client opened and left, as Node's fetch does after an aborted request), nor one
 * whose request was still arriving or whose response was still going out (a call cut at the end
 * of the grace period); each of those held the close until the force-close. One still in its TLS
 * handshake held it longer, past the force-close (TlsHandshakes).
 */
export class IdleConnections {
  private readonly open = new Set<Socket>();
  private readonly handshakes: TlsHandshakes | undefined;

  constructor(private readonly server: Server) {
    // An HTTPS server hands its requests the TLS socket, whose bytesRead counts what HTTP read.
    const tls = server instanceof TlsServer;
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
    });
    this.handshakes = tls ? new TlsHandshakes(server) : undefined;
  }

  /**
   * From now on each request gets its answer with `Connection: close` and its connection closes after
   * it: a kept-alive client reaches another replica only over a new connection, and left open, its
   * pooled connection brought every retry back here to be refused again until the server closed.
   * Not during the drain delay: calls are served then, and a cluster worker whose primary is gone
   * can be reached over the connections it has, not over a new one.
   */
  closeAfterEachAnswer(): void {
    this.server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
      response.shouldKeepAlive = false;
    });
  }

  /** Closes the idle connections now and each one as it becomes idle, until the returned function is called. */
  closeAsIdle(): () => void {
    const onFinish = (message: unknown): void => {
      // Published before the response lets go of its connection: swept once it has.
      if ((message as { server?: unknown }).server === this.server) setImmediate(this.sweep);
    };
    subscribe(RESPONSE_FINISH, onFinish);
    this.sweep();
    return () => unsubscribe(RESPONSE_FINISH, onFinish);
  }

  private readonly sweep = (): void => {
    this.server.closeIdleConnections();
    // Never read a byte: no request was begun on it, nothing to answer.
    for (const socket of this.open) if (socket.bytesRead === 0) socket.destroy();
    this.handshakes?.closeAll();
  };
}
