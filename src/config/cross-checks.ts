import { emptyAsUndefined } from './env-values.js';

/** The parsed settings whose problems show only together. */
interface Settings {
  readonly HOST: string;
  readonly PORT: number;
  readonly HTTP_ENABLED: string;
  readonly HTTP_HOST?: string | undefined;
  readonly HTTP_PORT: number;
  readonly METRICS: string;
  readonly METRICS_HOST?: string | undefined;
  readonly METRICS_PORT: number;
  readonly TLS_CERT_FILE?: string | undefined;
  readonly TLS_KEY_FILE?: string | undefined;
  readonly TLS_CLIENT_CA_FILE?: string | undefined;
}

const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

/** Problems of settings that are each valid alone; `given` is the environment as the user wrote it. */
export function crossSettingProblems(e: Settings, given: Readonly<Record<string, string | undefined>>): string[] {
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    return ['TLS_CERT_FILE and TLS_KEY_FILE: set both to serve TLS, or neither'];
  }
  if (e.TLS_CLIENT_CA_FILE !== undefined && e.TLS_CERT_FILE === undefined) {
    return ['TLS_CLIENT_CA_FILE: mTLS needs TLS_CERT_FILE and TLS_KEY_FILE too'];
  }
  // The process would collide with itself and fail "address already in use", as if another program held the port.
  const listeners = [
    { name: 'PORT', host: e.HOST, port: e.PORT },
    ...(['true', 'on', '1'].includes(e.HTTP_ENABLED) ? [{ name: 'HTTP_PORT', host: e.HTTP_HOST ?? e.HOST, port: e.HTTP_PORT }] : []),
    ...(e.METRICS === 'on' ? [{ name: 'METRICS_PORT', host: e.METRICS_HOST ?? e.HOST, port: e.METRICS_PORT }] : []),
  ];
  const problems: string[] = [];
  listeners.forEach((later, i) => {
    const earlier = listeners
      .slice(0, i)
      .find((l) => l.port !== 0 && l.port === later.port && (l.host === later.host || WILDCARDS.has(l.host) || WILDCARDS.has(later.host)));
    if (!earlier) return;
    const byDefault = emptyAsUndefined(given[later.name]) === undefined ? ' (its default)' : '';
    problems.push(`${later.name}: ${later.port}${byDefault} is ${earlier.name} too: give each its own port`);
  });
  return problems;
}
