import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';

/**
 * The TCP connections of a TLS server whose handshake has not finished. A closing server waits for
 * every connection, and neither door's force-close reaches these (grpc-js ends HTTP/2 sessions, the
 * HTTP server its HTTP connections): a client that connected and never finished the handshake held
 * a stop until the handshake timed out (two minutes). They carry no call, so a stop closes them.
 */
export class TlsHandshakes {
  /** By peer: the TLS socket made of a TCP connection names the same peer. */
  private readonly pending = new Map<string, Socket>();

  constructor(server: TlsServer) {
    server.on('connection', (raw: Socket) => {
      const peer = peerOf(raw);
      this.pending.set(peer, raw);
      // Also after a failed handshake: the TCP socket closes with its TLS socket.
      raw.once('close', () => {
        if (this.pending.get(peer) === raw) this.pending.delete(peer);
      });
    });
    server.on('secureConnection', (socket: Socket) => this.pending.delete(peerOf(socket)));
  }

  /** Closes every connection still in its handshake. */
  closeAll(): void {
    for (const raw of this.pending.values()) raw.destroy();
  }
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}
