// Container HEALTHCHECK: grpc.health.v1.Health/Check for the whole server ("") on
// 127.0.0.1:$PORT. Exit 0 when SERVING, 1 otherwise (NOT_SERVING while draining, unreachable,
// or no answer within 2 s). Uses the image's own @grpc/grpc-js, no extra binary.
// It runs in the server's container, with its environment: when TLS_CERT_FILE is set the port
// speaks only TLS, so the check does too; with TLS_CLIENT_CA_FILE it presents
// HEALTHCHECK_CERT_FILE/HEALTHCHECK_KEY_FILE (default: the server's own pair).
//   node deploy/healthcheck.mjs [host:port]
import { readFileSync } from 'node:fs';
import grpc from '@grpc/grpc-js';

// Read as the gateway's config reads them: trimmed, and a blank value is unset. Otherwise a
// blank TLS_CERT_FILE (the server then plaintext) made this check speak TLS and fail.
const setting = (name) => process.env[name]?.trim() || undefined;
const target = process.argv[2] ?? `127.0.0.1:${setting('PORT') ?? '50051'}`;
const SERVING = Buffer.from([0x08, 0x01]); // HealthCheckResponse { status: SERVING }
const identity = (b) => b;

function credentials() {
  const serverCert = setting('TLS_CERT_FILE');
  if (!serverCert) return grpc.credentials.createInsecure();
  const mutual = setting('TLS_CLIENT_CA_FILE') !== undefined;
  const key = mutual ? readFileSync(setting('HEALTHCHECK_KEY_FILE') ?? setting('TLS_KEY_FILE')) : null;
  const cert = mutual ? readFileSync(setting('HEALTHCHECK_CERT_FILE') ?? serverCert) : null;
  // The server's certificate names the host clients dial, rarely 127.0.0.1, and its CA may not be
  // in the container: this asks the process beside it whether it serves, not who it is.
  return grpc.credentials.createSsl(null, key, cert, { rejectUnauthorized: false });
}

// An IP address is no TLS server name (RFC 6066; Node warns on stderr): send a host name instead.
const client = new grpc.Client(target, credentials(), { 'grpc.ssl_target_name_override': 'localhost' });
client.makeUnaryRequest(
  '/grpc.health.v1.Health/Check',
  identity,
  identity,
  Buffer.alloc(0), // HealthCheckRequest { service: "" }
  { deadline: Date.now() + 2_000 },
  (err, response) => {
    client.close();
    if (err) {
      process.stderr.write(`unhealthy: ${err.details || err.message}\n`);
      process.exit(1);
    }
    const serving = response.equals(SERVING);
    if (!serving) process.stderr.write('unhealthy: not SERVING\n');
    process.exit(serving ? 0 : 1);
  },
);
