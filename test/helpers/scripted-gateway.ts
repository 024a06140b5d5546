import * as grpc from '@grpc/grpc-js';

/**
 * A gRPC server on a free port serving scripted handlers, for the CLI's own tests: what a
 * command sends is recorded by the handler, and its answer is whatever the test scripts.
 */
export interface ScriptedGateway {
  readonly address: string;
  close(): Promise<void>;
}

export async function startScriptedGateway(
  services: readonly (readonly [grpc.ServiceDefinition, grpc.UntypedServiceImplementation])[],
): Promise<ScriptedGateway> {
  const server = new grpc.Server();
  for (const [definition, implementation] of services) server.addService(definition, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
