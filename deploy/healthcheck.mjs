// Container HEALTHCHECK: grpc.health.v1.Health/Check for the whole server ("") on
// 127.0.0.1:$PORT. Exit 0 when SERVING, 1 otherwise (NOT_SERVING while draining, unreachable,
// or no answer within 2 s). Uses the image's own @grpc/grpc-js, no extra binary.
//   node deploy/healthcheck.mjs [host:port]
import grpc from '@grpc/grpc-js';

const target = process.argv[2] ?? `127.0.0.1:${process.env.PORT ?? '50051'}`;
const SERVING = Buffer.from([0x08, 0x01]); // HealthCheckResponse { status: SERVING }
const identity = (b) => b;

const client = new grpc.Client(target, grpc.credentials.createInsecure());
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
