/** Throughput rows of the gateway run as cluster workers (`--workers`, default 2). */
export const WORKERS_TARGET = 'gateway-workers';
let benchWorkers = 2;

/** The WORKERS count the workers rows ran with, for their label. */
export function setBenchWorkers(workers: number): void {
  benchWorkers = workers;
}

export function label(target: string): string {
  switch (target) {
    case 'direct':
      return 'direct (upstream)';
    case 'echo':
      return 'grpc-js echo (floor)';
    case 'gateway':
      return 'gateway';
    case 'gateway-http':
      return 'gateway HTTP API';
    case 'gateway-http-workers':
      return `gateway HTTP API, WORKERS=${benchWorkers}`;
    case 'peer':
      return 'Portkey 1.15.2';
    case WORKERS_TARGET:
      return `gateway, WORKERS=${benchWorkers}`;
    default:
      return target;
  }
}
