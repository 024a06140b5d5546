import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';

/** GRPC_* settings become the grpc-js server options of the same meaning (gRFC A8/A9). */
describe('gRPC server options from the environment', () => {
  it('maps each setting to its grpc-js option', () => {
    const config = loadConfig({
      GRPC_KEEPALIVE_TIME_MS: '30000',
      GRPC_KEEPALIVE_TIMEOUT_MS: '5000',
      GRPC_MAX_CONNECTION_AGE_MS: '600000',
      GRPC_MAX_CONNECTION_AGE_GRACE_MS: '45000',
      GRPC_MAX_SEND_MESSAGE_BYTES: '8388608',
      GRPC_MAX_CONNECTION_IDLE_MS: '60000',
      GRPC_MAX_CONCURRENT_STREAMS: '50',
    });
    expect(config.grpcServerOptions).toEqual({
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_connection_age_ms': 600_000,
      'grpc.max_connection_age_grace_ms': 45_000,
      'grpc.max_send_message_length': 8_388_608,
      'grpc.max_connection_idle_ms': 60_000,
      'grpc.max_concurrent_streams': 50,
    });
  });

  it('leaves out what is unset or 0, so the grpc-js defaults apply', () => {
    const limitsOff = { GRPC_MAX_CONNECTION_IDLE_MS: '0', GRPC_MAX_CONCURRENT_STREAMS: '0' };
    expect(loadConfig(limitsOff).grpcServerOptions).toEqual({});
    expect(loadConfig({ ...limitsOff, GRPC_KEEPALIVE_TIME_MS: '0', GRPC_MAX_CONNECTION_AGE_MS: '1000' }).grpcServerOptions).toEqual({
      'grpc.max_connection_age_ms': 1_000,
    });
  });

  it('bounds idle connections and streams per connection by default', () => {
    expect(loadConfig({}).grpcServerOptions).toEqual({ 'grpc.max_connection_idle_ms': 300_000, 'grpc.max_concurrent_streams': 1_000 });
  });

  it('refuses more streams per connection than HTTP/2 can advertise, which would end every connection at its first call', () => {
    expect(() => loadConfig({ GRPC_MAX_CONCURRENT_STREAMS: '5000000000' })).toThrow('GRPC_MAX_CONCURRENT_STREAMS');
    expect(loadConfig({ GRPC_MAX_CONCURRENT_STREAMS: '4294967295' }).grpcServerOptions['grpc.max_concurrent_streams']).toBe(4_294_967_295);
  });

  it('refuses values that are not whole non-negative numbers', () => {
    for (const [name, value] of [
      ['GRPC_KEEPALIVE_TIME_MS', '-1'],
      ['GRPC_MAX_CONNECTION_AGE_MS', '1.5'],
      ['GRPC_MAX_SEND_MESSAGE_BYTES', 'lots'],
    ] as const) {
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(name);
    }
  });

  it('bounds request metadata to 16 KiB by default; 0 lifts the bound, and a bound too small for any call is refused', () => {
    expect(loadConfig({}).maxMetadataBytes).toBe(16_384);
    expect(loadConfig({ GRPC_MAX_METADATA_BYTES: '65536' }).maxMetadataBytes).toBe(65_536);
    expect(loadConfig({ GRPC_MAX_METADATA_BYTES: '0' }).maxMetadataBytes).toBe(0);
    for (const value of ['100', '-1', '5000000000'])
      expect(() => loadConfig({ GRPC_MAX_METADATA_BYTES: value }), value).toThrow('GRPC_MAX_METADATA_BYTES');
  });
});
