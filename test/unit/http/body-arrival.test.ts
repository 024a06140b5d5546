import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { timeBodyArrival } from '../../../src/http/body-arrival.js';

/** A gateway's own work between a body's arrival and its handler: hooks, validation. */
const GATEWAY_WORK_MS = 30;

async function app() {
  const server = Fastify();
  timeBodyArrival(server);
  server.addHook('preValidation', async () => {
    const until = performance.now() + GATEWAY_WORK_MS;
    while (performance.now() < until);
  });
  server.post('/echo', async (request) => ({ body: request.body, sinceArrivalMs: performance.now() - request.bodyArrivedAt }));
  server.get('/plain', async (request) => ({ bodyArrivedAt: request.bodyArrivedAt }));
  await server.ready();
  return server;
}

describe('timeBodyArrival', () => {
  it("stamps a JSON body's arrival before the gateway parses and checks it", async () => {
    const server = await app();
    const res = await server.inject({ method: 'POST', url: '/echo', payload: { a: [1, 2] } });
    const answer = res.json<{ body: unknown; sinceArrivalMs: number }>();
    expect(answer.body).toEqual({ a: [1, 2] });
    // The hook's work came after the stamp, so it is not taken for the body's arrival.
    expect(answer.sinceArrivalMs).toBeGreaterThanOrEqual(GATEWAY_WORK_MS - 1);
    await server.close();
  });

  it('leaves a request without a body unstamped', async () => {
    const server = await app();
    const res = await server.inject({ method: 'GET', url: '/plain' });
    expect(res.json()).toEqual({ bodyArrivedAt: 0 });
    await server.close();
  });

  it("keeps Fastify's own JSON errors: invalid JSON and a __proto__ key", async () => {
    const server = await app();
    const post = (payload: string) =>
      server.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });
    expect((await post('{"a":')).json()).toMatchObject({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' });
    expect((await post('{"__proto__":{"x":1}}')).statusCode).toBe(400);
    expect((await post('')).json()).toMatchObject({ statusCode: 400, code: 'FST_ERR_CTP_EMPTY_JSON_BODY' });
    await server.close();
  });
});
