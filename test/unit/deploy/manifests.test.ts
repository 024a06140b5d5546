import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { envSchema, loadConfig } from '../../../src/config/config.js';
import { SQLITE_MEMORY } from '../../../src/store/url.js';
import { clusterProblems } from '../../../src/cluster/checks.js';
import { completeConfig } from '../../../src/config/resolve.js';

/** deploy/: every YAML file parses, and the manifests agree with each other and with the server's defaults. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

interface Manifest {
  file: string;
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  /** Kustomization */
  resources?: string[];
}

function parse(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return docs.map((doc) => {
    expect(
      doc.errors.map((e) => e.message),
      file,
    ).toEqual([]);
    return { ...(doc.toJS() as object), file };
  });
}

interface Port {
  name?: string;
  containerPort?: number;
  port?: number;
  targetPort?: number | string;
}
interface GrpcProbe {
  grpc?: { port?: number; service?: string };
}
interface Container {
  name: string;
  ports?: Port[];
  startupProbe?: GrpcProbe;
  livenessProbe?: GrpcProbe;
  readinessProbe?: GrpcProbe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: { readOnlyRootFilesystem?: boolean };
}

const all = yamlFiles('deploy').flatMap(parse);
const BASE = join('deploy', 'k8s', 'base');
/** The base's manifests (the overlays patch them and are checked on their own below). */
const k8s = all.filter((m) => m.file.startsWith(BASE) && m.kind);
const one = (kind: string, name?: string): Manifest => {
  const found = k8s.filter((m) => m.kind === kind && (name === undefined || m.metadata?.name === name));
  expect(
    found.map((m) => m.metadata?.name),
    `${kind} ${name ?? ''}`,
  ).toHaveLength(1);
  return found[0]!;
};

const defaults = loadConfig({});
const deployment = one('Deployment');
const podSpec = (deployment.spec!.template as { spec: { containers: Container[] }; metadata: { labels: Record<string, string> } }).spec;
const podLabels = (deployment.spec!.template as { metadata: { labels: Record<string, string> } }).metadata.labels;
const container = podSpec.containers[0]!;
const portNamed = (name: string): Port | undefined => container.ports?.find((p) => p.name === name);
const selects = (selector: Record<string, string> | undefined): boolean =>
  !!selector && Object.entries(selector).every(([k, v]) => podLabels[k] === v);

describe('deploy/', () => {
  it('every YAML file parses (Kubernetes manifests and the Envoy config)', () => {
    expect(all.map((m) => m.file)).toEqual(expect.arrayContaining([join('deploy', 'envoy', 'envoy.yaml'), join(BASE, 'deployment.yaml')]));
    expect(k8s.filter((m) => !m.apiVersion || (m.kind !== 'Kustomization' && !m.metadata?.name)).map((m) => m.file)).toEqual([]);
  });

  it('kustomization.yaml lists files that exist, and the examples stay out of it', () => {
    const resources = one('Kustomization').resources ?? [];
    for (const file of resources) expect(statSync(join(BASE, file)).isFile()).toBe(true);
    expect(resources).toEqual(expect.arrayContaining(['deployment.yaml', 'service.yaml', 'pdb.yaml', 'configmap.yaml']));
    expect(resources.some((r) => r.includes('example'))).toBe(false);
  });

  it('the Deployment has native gRPC startup, liveness and readiness probes on the gRPC port', () => {
    const grpcPort = portNamed('grpc')?.containerPort;
    expect(grpcPort).toBe(defaults.port);
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
      expect(probe?.grpc?.port).toBe(grpcPort);
    }
    expect(container.livenessProbe?.grpc?.service).toBe('');
    expect(container.readinessProbe?.grpc?.service).toBe('orchestrator.v1.ChatService');
    expect(one('ConfigMap', 'llm-orchestrator-env').data?.PORT).toBe(String(grpcPort));
  });

  it('gives a pod time for its whole stop: preStop, drain delay and grace, then the 5 s the process may take past them', () => {
    const env = one('ConfigMap', 'llm-orchestrator-env').data ?? {};
    const lifecycle = (container as { lifecycle?: { preStop?: { exec?: { command?: string[] } } } }).lifecycle;
    const preStopS = Number(lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    const stopS = preStopS + Number(env.DRAIN_DELAY_MS ?? 0) / 1000 + Number(env.SHUTDOWN_GRACE_MS ?? defaults.shutdownGraceMs) / 1000 + 5;
    const pod = deployment.spec!.template as { spec: { terminationGracePeriodSeconds?: number } };
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(stopS);
  });

  it('gives the read-only container a writable volume where the ConfigMap puts the SQLite ledger', () => {
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    const target = loadConfig(one('ConfigMap', 'llm-orchestrator-env').data ?? {}).ledger.target;
    if (target.kind !== 'sqlite' || target.file === SQLITE_MEMORY) return;
    const runtime =
      readFileSync(join('deploy', 'Dockerfile'), 'utf8')
        .split(/^FROM /m)
        .at(-1) ?? '';
    const workdir = /^WORKDIR (\S+)$/m.exec(runtime)?.[1] ?? '/';
    const dir = posix.resolve(workdir, posix.dirname(target.file));
    const mount = container.volumeMounts?.find((m) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`));
    expect(mount, `a volume mounted at ${dir}`).toBeDefined();
    expect(mount?.readOnly).not.toBe(true);
    const volumes = (podSpec as { volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: object }[] }).volumes ?? [];
    const volume = volumes.find((v) => v.name === mount?.name);
    expect(volume?.emptyDir ?? volume?.persistentVolumeClaim).toBeDefined();
  });

  it('exposes the OpenAI-compatible HTTP API port, on by default: container port, its own Service, the ConfigMap, the Dockerfile', () => {
    expect(defaults.http.enabled).toBe(true);
    const httpPort = defaults.http.port;
    expect(portNamed('http')?.containerPort).toBe(httpPort);
    expect(one('ConfigMap', 'llm-orchestrator-env').data?.HTTP_PORT).toBe(String(httpPort));
    const services = k8s.filter((m) => m.kind === 'Service' && selects(m.spec?.selector as Record<string, string>));
    const httpServices = services.filter((s) => (s.spec!.ports as Port[]).some((p) => p.targetPort === 'http'));
    expect(httpServices).toHaveLength(1);
    // Apart from the gRPC Services, as the metrics port is.
    expect((httpServices[0]!.spec!.ports as Port[]).every((p) => p.targetPort === 'http')).toBe(true);
    const expose = readFileSync(join('deploy', 'Dockerfile'), 'utf8')
      .match(/^EXPOSE\s+(.+)$/m)?.[1]
      ?.split(/\s+/);
    expect(expose).toContain(String(httpPort));
  });

  it("sets only settings the gateway has, in values it accepts: the ConfigMap's and the image's environment", () => {
    const settings = Object.keys(envSchema.shape);
    const env = one('ConfigMap', 'llm-orchestrator-env').data ?? {};
    expect(Object.keys(env).filter((name) => !settings.includes(name))).toEqual([]);
    expect(() => loadConfig(env)).not.toThrow();
    // The image's ENV: Node's own NODE_ENV and the build's GIT_COMMIT aside, the config's defaults.
    const runtime =
      readFileSync(join('deploy', 'Dockerfile'), 'utf8')
        .split(/^FROM /m)
        .at(-1) ?? '';
    const image = Object.fromEntries(
      runtime
        .replace(/\\\n\s*/g, ' ')
        .split('\n')
        .filter((line) => line.startsWith('ENV '))
        .flatMap((line) => [...line.matchAll(/\b([A-Z_]+)=(\S*)/g)])
        .filter(([, name]) => settings.includes(name!))
        .map(([, name, value]) => [name!, value!]),
    );
    expect(image).toEqual({ HOST: defaults.host, PORT: String(defaults.port) });
  });

  it("the docs' advice to run WORKERS=N in a pod names the ledger, which the ConfigMap's SQLite default refuses", () => {
    const { CONFIG_FILE: _file, ...env } = one('ConfigMap', 'llm-orchestrator-env').data ?? {};
    const workers = completeConfig(loadConfig({ ...env, WORKERS: '2', REDIS_URL: 'redis://redis:6379' }), {});
    expect(clusterProblems(workers, undefined).filter((p) => p.startsWith('DATABASE_URL:'))).toHaveLength(1);
    const advice = readFileSync(join('docs', 'DEPLOYMENT.md'), 'utf8')
      .replace(/\s+/g, ' ')
      .split(/(?<=\.) /)
      .find((sentence) => sentence.includes('`WORKERS=N`'));
    expect(advice).toContain('`DATABASE_URL`');
  });

  it("a PodDisruptionBudget covers the Deployment's pods and leaves a replica up", () => {
    const pdb = one('PodDisruptionBudget');
    expect(selects((pdb.spec!.selector as { matchLabels?: Record<string, string> }).matchLabels)).toBe(true);
    expect(pdb.spec?.maxUnavailable).toBe(1);
    expect(Number(deployment.spec?.replicas)).toBeGreaterThan(1);
  });

  it('exposes the metrics port: container port, a Service with prometheus.io annotations, the ServiceMonitor example, the Dockerfile', () => {
    const metricsPort = defaults.metrics.port;
    expect(metricsPort).toBe(9464);
    expect(portNamed('metrics')?.containerPort).toBe(metricsPort);
    expect(one('ConfigMap', 'llm-orchestrator-env').data?.METRICS_PORT).toBe(String(metricsPort));

    const services = k8s.filter((m) => m.kind === 'Service' && selects(m.spec?.selector as Record<string, string>));
    const metricsServices = services.filter((s) => (s.spec!.ports as Port[]).some((p) => p.targetPort === 'metrics'));
    expect(metricsServices).toHaveLength(1);
    const service = metricsServices[0]!;
    expect(service.metadata?.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(metricsPort),
      'prometheus.io/path': '/metrics',
    });
    // The gRPC Services carry no HTTP/1.1 port.
    for (const s of services.filter((x) => x !== service && (x.spec!.ports as Port[]).every((p) => p.targetPort !== 'http')))
      expect((s.spec!.ports as Port[]).every((p) => p.targetPort === 'grpc')).toBe(true);

    const monitor = one('ServiceMonitor');
    const selector = (monitor.spec!.selector as { matchLabels: Record<string, string> }).matchLabels;
    const matching = k8s.filter((m) => m.kind === 'Service' && Object.entries(selector).every(([k, v]) => m.metadata?.labels?.[k] === v));
    expect(matching).toEqual([service]);
    const endpoints = monitor.spec?.endpoints as { port: string; path: string }[];
    expect(endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect((service.spec!.ports as Port[]).map((p) => p.name)).toContain('metrics');

    const expose = readFileSync(join('deploy', 'Dockerfile'), 'utf8')
      .match(/^EXPOSE\s+(.+)$/m)?.[1]
      ?.split(/\s+/);
    expect(expose).toEqual(expect.arrayContaining(['50051', String(metricsPort)]));
  });
});
