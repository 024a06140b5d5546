import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const BUF = fileURLToPath(new URL('../../node_modules/.bin/buf', import.meta.url));

/** The services a server lists over reflection, as `buf curl --list-services` sees them. */
export async function listServices(address: string, protocol: 'grpc-v1' | 'grpc-v1alpha'): Promise<string[]> {
  const args = [
    'curl',
    '--protocol',
    'grpc',
    '--http2-prior-knowledge',
    '--reflect-protocol',
    protocol,
    '--list-services',
    `http://${address}`,
  ];
  const { stdout } = await promisify(execFile)(BUF, args);
  return stdout.trim().split('\n');
}
