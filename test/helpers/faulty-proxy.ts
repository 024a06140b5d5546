import { once } from 'node:events';
import { connect as tcp, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the server. Once armed (`cutOn`), it cuts the connection that sends a message
 * containing `text`: at once, or after letting it through and holding back the answer (`afterAnswerLost`).
 * Once frozen (`freeze`), it passes nothing on either way and keeps every connection open: a database
 * that stopped answering.
 */
export async function faultyProxy(port: number): Promise<{
  port: number;
  cutOn: (text: string, afterAnswerLost?: boolean) => void;
  freeze: () => void;
  close: () => void;
}> {
  let armed: { text: string; afterAnswerLost: boolean } | undefined;
  let frozen = false;
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = tcp(port, '127.0.0.1');
    sockets.push(client, upstream);
    let holding = false;
    client.on('data', (chunk: Buffer) => {
      if (frozen) return;
      const cut = armed !== undefined && chunk.toString('utf8').includes(armed.text) ? armed : undefined;
      if (cut) armed = undefined;
      if (cut && !cut.afterAnswerLost) {
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
      if (cut) {
        holding = true;
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, 200);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!holding && !frozen) client.write(chunk);
    });
    for (const s of [client, upstream]) s.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    cutOn: (text, afterAnswerLost = false) => {
      armed = { text, afterAnswerLost };
    },
    freeze: () => {
      frozen = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
