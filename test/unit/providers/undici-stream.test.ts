import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/providers/http/undici-core.js';
import { ChunkStream, postForStream, type StreamResponse } from '../../../src/providers/http/undici-stream.js';

/**
 * A streamed answer read straight from the dispatcher: the chunks in order, the socket paused
 * while the reader holds back, every way of stopping closing the connection, and failures as
 * fetch reports them.
 */

const BIG_CHUNK = Buffer.alloc(64 * 1024, 'x');
const BIG_CHUNKS = 320; // 20 MB: far more than the socket buffers and the queue hold together

/** 8 MB of text, compressed to a few KB: decoded, it must stay bounded by the reader's pace too. */
const BIG_TEXT_BYTES = 8 * 1024 * 1024;
const BIG_GZIP = gzipSync(Buffer.alloc(BIG_TEXT_BYTES, 'y'));

let server: http.Server;
let origin = '';
const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
/** Paths whose answer the client closed before it was written whole. */
const closed: string[] = [];
/** Bytes the /big handler got onto the socket so far. */
let bigWritten = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = req.url ?? '';
      res.on('close', () => {
        if (!res.writableFinished) closed.push(url);
      });
      if (url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.write('data: 2\n\n'), 5);
        setTimeout(() => res.end('data: [DONE]\n\n'), 10);
      } else if (url === '/gzip') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
        res.end(gzipSync('data: zipped\n\n'));
      } else if (url === '/big-gzip') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
        res.end(BIG_GZIP);
      } else if (url === '/big') {
        bigWritten = 0;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let sent = 0;
        const more = (): void => {
          while (sent < BIG_CHUNKS) {
            sent += 1;
            bigWritten += BIG_CHUNK.length;
            if (sent === BIG_CHUNKS) res.end(BIG_CHUNK);
            else if (!res.write(BIG_CHUNK)) return;
          }
        };
        res.on('drain', more);
        more();
      } else if (url === '/endless') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
      } else if (url === '/cut') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.destroy(), 10);
      } else if (url === '/hang') {
        // no headers: the client has to abort
      } else {
        res.writeHead(429, { 'retry-after': '2' });
        res.end('slow down');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await dispatcher.close();
  await new Promise((resolve) => server.close(resolve));
});

const post = (path: string, signal = new AbortController().signal): Promise<StreamResponse> =>
  postForStream(dispatcher, { origin, path, headers: { 'content-type': 'application/json' }, body: '{}', signal });

async function readAll(response: StreamResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const waitFor = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('postForStream', () => {
  it('resolves at the headers and gives the body as it arrives, to its end', async () => {
    const response = await post('/sse');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toBe('text/event-stream');
    expect(await readAll(response)).toBe('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
  });

  it('gives an error status with its headers and body', async () => {
    const response = await post('/other');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(await readAll(response)).toBe('slow down');
  });

  it('decodes a gzip body', async () => {
    expect(await readAll(await post('/gzip'))).toBe('data: zipped\n\n');
  });

  it('pauses the socket while the reader holds back, and resumes when it reads on', async () => {
    const response = await post('/big');
    const iterator = response.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    await new Promise((r) => setTimeout(r, 300));
    expect(response.body.queuedBytes).toBeLessThan(128 * 1024);
    // The server could only fill the socket buffers and the 64 KB queue, not write 20 MB.
    expect(bigWritten).toBeLessThan((BIG_CHUNKS * BIG_CHUNK.length) / 2);
    let bytes = first.value?.length ?? 0;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) bytes += next.value.length;
    expect(bytes).toBe(BIG_CHUNKS * BIG_CHUNK.length);
  });

  it('decodes a large gzip body at the pace of its reader, every byte', async () => {
    const response = await post('/big-gzip');
    const iterator = response.body[Symbol.asyncIterator]();
    let bytes = (await iterator.next()).value?.length ?? 0;
    await new Promise((r) => setTimeout(r, 100));
    // Decoding stopped once a queue's worth waited for the reader (zlib hands out 16 KB pieces).
    expect(response.body.queuedBytes).toBeGreaterThan(0);
    expect(response.body.queuedBytes).toBeLessThan(128 * 1024);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      expect(next.value.every((b) => b === 0x79)).toBe(true);
      bytes += next.value.length;
    }
    expect(bytes).toBe(BIG_TEXT_BYTES);
  });

  it('closes the connection when the reader stops early', async () => {
    const response = await post('/endless');
    for await (const chunk of response.body) {
      expect(chunk.toString()).toBe('data: 1\n\n');
      break;
    }
    await waitFor(() => closed.includes('/endless'));
    expect(closed).toContain('/endless');
  });

  it('rejects the pending read with the signal reason when aborted mid-body, and closes the connection', async () => {
    closed.length = 0;
    const controller = new AbortController();
    const response = await post('/endless', controller.signal);
    const iterator = response.body[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.toString()).toBe('data: 1\n\n');
    const pending = iterator.next();
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await waitFor(() => closed.includes('/endless'));
    expect(closed).toContain('/endless');
  });

  it('rejects with the signal reason when aborted before the headers', async () => {
    const controller = new AbortController();
    const pending = post('/hang', controller.signal);
    setTimeout(() => controller.abort(new Error('gone')), 20);
    await expect(pending).rejects.toThrow('gone');
    await expect(post('/sse', AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it("fails as fetch does: 'terminated' after the chunks read before a cut, 'fetch failed' when unreachable", async () => {
    const response = await post('/cut');
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of response.body) seen.push(chunk.toString());
      })(),
    ).rejects.toThrow('terminated');
    expect(seen).toEqual(['data: 1\n\n']);
    const refused = postForStream(dispatcher, {
      origin: 'http://127.0.0.1:1',
      path: '/',
      headers: {},
      body: '',
      signal: new AbortController().signal,
    });
    await expect(refused).rejects.toThrow('fetch failed');
  });
});

describe('ChunkStream', () => {
  // Each resume makes undici copy what the socket holds (up to a buffer's worth) into its parser
  // again: resumed at each small chunk the reader takes, a fast upstream's stream to a slow
  // reader cost a 64 KB copy per token.
  it('resumes a paused socket once the reader has taken much of the queue, not at each small chunk it takes', async () => {
    const body = new ChunkStream(new AbortController().signal);
    const piece = Buffer.alloc(170, 'x');
    const total = 20_000;
    let parsed = 0;
    let resumes = 0;
    // What undici's parser does: hand on chunks until the handler asks it to pause; a resume goes on.
    const parse = (): void => {
      while (parsed < total) {
        parsed += 1;
        if (!body.data(piece)) return;
      }
      body.complete();
    };
    body.started(() => {
      resumes += 1;
      parse();
    }, undefined);
    parse();
    let read = 0;
    for await (const chunk of body) read += chunk.length;
    expect(read).toBe(total * piece.length);
    expect(resumes).toBeLessThan((total * piece.length) / (16 * 1024));
  });
});
