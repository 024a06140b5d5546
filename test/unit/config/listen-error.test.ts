import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenError } from '../../../src/config/listen-error.js';

const listener = { what: 'gRPC port', host: 'gw.invalid', port: 50051, portSetting: 'PORT', hostSetting: 'HOST' };

/** What Node's own listen says for a name that does not resolve (.invalid never does, RFC 6761). */
async function unresolvedListen(): Promise<Error> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen(0, 'gw.invalid', () => {
      server.close();
      resolve(new Error('gw.invalid resolved'));
    });
  });
}

describe('listenError', () => {
  it('names the host setting when the address does not resolve (Node: getaddrinfo ENOTFOUND)', async () => {
    const err = listenError(await unresolvedListen(), listener);
    expect(err.message).toBe('HOST gw.invalid does not resolve to an address (ENOTFOUND)');
  });

  it('names it for grpc-js too, whose bind error carries no code', () => {
    const err = listenError(new Error('Name resolution failed for target dns:gw.invalid:50051'), listener);
    expect(err.message).toBe('HOST gw.invalid does not resolve to an address');
  });

  it('names it when the resolver is not answering (EAI_AGAIN)', () => {
    const failed = Object.assign(new Error('getaddrinfo EAI_AGAIN gw.example'), { code: 'EAI_AGAIN' });
    const err = listenError(failed, { ...listener, host: 'gw.example', hostSetting: 'METRICS_HOST' });
    expect(err.message).toBe('METRICS_HOST gw.example does not resolve to an address (EAI_AGAIN)');
  });
});
