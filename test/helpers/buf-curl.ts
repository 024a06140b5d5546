import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const BUF = fileURLToPath(new URL('../../node_modules/.bin/buf', import.meta.url));

/** The services a server lists over reflection, as `buf curl --list-services` sees them. */
export function listServices(address: string, protocol: 'grpc-v1' | 'grpc-v1alpha'): Promise<string[]> {
  return reflectionList(address, protocol, '--list-services');
}

/** Every method of every listed service, as `buf curl --list-methods` resolves them through reflection. */
export function listMethods(address: string, protocol: 'grpc-v1' | 'grpc-v1alpha'): Promise<string[]> {
  return reflectionList(address, protocol, '--list-methods');
}

async function reflectionList(address: string, protocol: 'grpc-v1' | 'grpc-v1alpha', list: string): Promise<string[]> {
  const args = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--reflect-protocol', protocol, list, `http://${address}`];
  const { stdout } = await promisify(execFile)(BUF, args);
  return stdout.trim().split('\n');
}
