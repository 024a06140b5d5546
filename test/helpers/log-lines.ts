import { Writable } from 'node:stream';

/** A log destination that keeps the server's real log lines, parsed. */
export function captureLines(): { readonly lines: Record<string, unknown>[]; readonly sink: Writable } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, sink };
}
