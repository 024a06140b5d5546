import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { envSchema, loadConfig } from '../../../src/config/config.js';
import { DEFAULT_SQLITE_FILE } from '../../../src/store/url.js';
import { buildInfo } from '../../../src/telemetry/build-info.js';

/**
 * deploy/compose.yaml, the Dockerfile, the Kustomize overlays, and a register of which test
 * checks each file under deploy/ (no docker or cluster here: the files are parsed and
 * cross-checked; `kubectl kustomize` builds the overlays where kubectl is installed).
 */
const read = (file: string): string => readFileSync(file, 'utf8');
const defaults = loadConfig({});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Which test file checks each file under deploy/. A new file there must be added (and tested). */
const COVERED: Record<string, string> = {
  'deploy/Dockerfile': 'deploy/stack, deploy/manifests (EXPOSE)',
  'deploy/Dockerfile.dockerignore': 'deploy/stack',
  'deploy/healthcheck.mjs': 'integration/deploy-healthcheck',
  'deploy/compose.yaml': 'deploy/stack',
  'deploy/envoy/envoy.yaml': 'deploy/manifests',
  'deploy/grafana/dashboards/llm-orchestrator.json': 'deploy/observability',
  'deploy/grafana/provisioning/dashboards/llm-orchestrator.yaml': 'deploy/stack',
  'deploy/grafana/provisioning/datasources/prometheus.yaml': 'deploy/stack',
  'deploy/prometheus/alerts.yaml': 'deploy/observability',
  'deploy/prometheus/prometheus.yml': 'deploy/stack',
  'deploy/k8s/kustomization.yaml': 'deploy/stack',
  'deploy/k8s/base/kustomization.yaml': 'deploy/manifests',
  'deploy/k8s/base/configmap.yaml': 'deploy/manifests',
  'deploy/k8s/base/deployment.yaml': 'deploy/manifests',
  'deploy/k8s/base/service.yaml': 'deploy/manifests',
  'deploy/k8s/base/pdb.yaml': 'deploy/manifests',
  'deploy/k8s/base/secret.example.yaml': 'deploy/manifests (parses)',
  'deploy/k8s/base/servicemonitor.example.yaml': 'deploy/manifests',
  'deploy/k8s/overlays/production/kustomization.yaml': 'deploy/stack',
  'deploy/k8s/overlays/production/hpa.yaml': 'deploy/stack',
  'deploy/k8s/overlays/dev/kustomization.yaml': 'deploy/stack',
};

describe('deploy/', () => {
  it('has no file that no test checks', () => {
    expect(
      filesUnder('deploy')
        .map((f) => f.split('\\').join('/'))
        .sort(),
    ).toEqual(Object.keys(COVERED).sort());
  });
});

interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
}
const compose = parse(read('deploy/compose.yaml')) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

describe('deploy/compose.yaml', () => {
  const { services } = compose;

  it('runs the gateway with Redis, PostgreSQL, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['gateway', 'grafana', 'postgres', 'prometheus', 'redis']);
  });

  it('builds the gateway from deploy/Dockerfile and publishes the default gRPC, HTTP API and metrics ports', () => {
    const gw = services['gateway']!;
    const context = normalize(join('deploy', gw.build!.context));
    expect(existsSync(join(context, gw.build!.dockerfile))).toBe(true);
    expect(gw.ports).toEqual([
      `${defaults.port}:${defaults.port}`,
      `${defaults.http.port}:${defaults.http.port}`,
      `${defaults.metrics.port}:${defaults.metrics.port}`,
    ]);
  });

  it('configures the gateway only with settings the gateway accepts, Redis reachable by its service name', () => {
    const env = services['gateway']!.environment!;
    const settings = Object.keys(envSchema.shape);
    for (const key of Object.keys(env)) expect(settings, key).toContain(key);
    const config = loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{[^}]*\}/, '')])));
    expect(config.redis.url).toBe('redis://redis:6379');
    expect(config.metrics.host).toBe('0.0.0.0');
    expect(services['gateway']!.depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
  });

  it("the ledger profile's PostgreSQL becomes the gateway's ledger with the documented command", () => {
    const command = read('docs/operations-kit.md')
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .find((line) => line.includes('--profile ledger'));
    const url = /DATABASE_URL=(\S+)/.exec(command ?? '')?.[1];
    expect(url, command).toBeDefined();
    const env = Object.fromEntries(
      Object.entries(services['gateway']!.environment!).map(([k, v]) => [
        k,
        v.replace(/\$\{(\w+)[^}]*\}/, (_, name: string) => (name === 'DATABASE_URL' ? url! : '')),
      ]),
    );
    const target = loadConfig(env).ledger.target;
    expect(target.kind).toBe('postgres');
    const given = new URL(target.kind === 'postgres' ? target.url : '');
    const pg = services['postgres']!.environment!;
    expect([given.hostname, given.username, given.password, given.pathname]).toEqual([
      'postgres',
      pg.POSTGRES_USER,
      pg.POSTGRES_PASSWORD,
      `/${pg.POSTGRES_DB}`,
    ]);
  });

  it('pins every image to an exact version', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect(svc.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+(\.\d+)?(-[\w.-]+)?(@sha256:[0-9a-f]{64})?$/);
    }
  });

  it("mounts files that exist, and Prometheus scrapes the gateway's metrics port with the alert rules loaded", () => {
    for (const svc of Object.values(services)) {
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(join('deploy', source)), volume).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), volume).toContain(source);
      }
    }
    const prom = parse(read('deploy/prometheus/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    expect(prom.scrape_configs[0]?.static_configs[0]?.targets).toEqual([`gateway:${defaults.metrics.port}`]);
    expect(prom.scrape_configs[0]?.metrics_path).toBe('/metrics');
    const mounts = services['prometheus']!.volumes!.map((v) => v.split(':'));
    for (const rule of prom.rule_files) expect(mounts.some(([, target]) => target === rule)).toBe(true);
  });

  it('provisions Grafana with the Prometheus data source and the dashboard folder', () => {
    const mounts = Object.fromEntries(services['grafana']!.volumes!.map((v) => v.split(':')).map(([s, t]) => [t, s]));
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yaml')) as {
      datasources: { type: string; url: string; isDefault: boolean }[];
    };
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
    const dashboards = parse(read('deploy/grafana/provisioning/dashboards/llm-orchestrator.yaml')) as {
      providers: { type: string; options: { path: string } }[];
    };
    const path = dashboards.providers[0]!.options.path;
    expect(mounts[path]).toBe('./grafana/dashboards');
    expect(mounts['/etc/grafana/provisioning']).toBe('./grafana/provisioning');
    expect(existsSync('deploy/grafana/dashboards/llm-orchestrator.json')).toBe(true);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('pins the base image to an exact Node.js version that satisfies engines', () => {
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(image).toMatch(/^node:\d+\.\d+\.\d+-[\w-]+(@sha256:[0-9a-f]{64})?$/);
    const [major, minor] = /^node:(\d+)\.(\d+)/
      .exec(image ?? '')!
      .slice(1)
      .map(Number);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const [wantMajor, wantMinor] = /(\d+)\.(\d+)/.exec(engines)!.slice(1).map(Number);
    expect(major! > wantMajor! || (major === wantMajor && minor! >= wantMinor!)).toBe(true);
  });

  it('carries the GIT_COMMIT build argument into the runtime environment, after the dependency layer', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const arg = runtime.search(/^ARG GIT_COMMIT(=.*)?$/m);
    const env = runtime.search(/^ENV GIT_COMMIT=\$\{GIT_COMMIT\}$/m);
    expect(arg).toBeGreaterThan(runtime.indexOf('RUN npm ci'));
    expect(env).toBeGreaterThan(arg);
    // The comment at the top shows how to pass it.
    expect(dockerfile).toContain('--build-arg GIT_COMMIT=$(git rev-parse HEAD)');
    // What the variable then does: the build info names that commit, and nothing else.
    const commit = 'a'.repeat(40);
    expect(buildInfo({ GIT_COMMIT: commit }).commit).toBe(commit);
    expect(buildInfo({ GIT_COMMIT: 'not a commit' }).commit).toBe('unknown');
  });

  it('starts the gateway as `npm start` does: node, the same Node flags, dist/main.js', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start.split(' ');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    expect(cmd).toEqual(start);
    expect(start).toContain('--max-semi-space-size=64');
  });

  it("lets the image's user create the default SQLite ledger (DATABASE_URL unset) in the root-owned WORKDIR", () => {
    expect(defaults.ledger.target).toEqual({ kind: 'sqlite', file: DEFAULT_SQLITE_FILE });
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const workdir = /^WORKDIR (\S+)$/m.exec(runtime)?.[1] ?? '';
    const user = /^USER (\S+)$/m.exec(runtime)?.[1] ?? '';
    const dir = posix.resolve(workdir, posix.dirname(DEFAULT_SQLITE_FILE));
    const asRoot = runtime.slice(0, runtime.search(/^USER /m));
    const runs = asRoot.split('\n').filter((line) => line.startsWith('RUN '));
    expect(runs.some((line) => line.includes(`mkdir -p ${dir}`) && line.includes(`chown ${user} ${dir}`))).toBe(true);
  });

  it('has a HEALTHCHECK that runs the copied health check script, which the build context lets through', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*CMD \["node", "healthcheck\.mjs"\]$/m);
    expect(dockerfile).toContain('COPY deploy/healthcheck.mjs ./healthcheck.mjs');
    expect(read('deploy/Dockerfile.dockerignore').split('\n')).toContain('!deploy/healthcheck.mjs');
  });
});

interface Kustomization {
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
}
const kustomization = (dir: string): Kustomization => parse(read(join(dir, 'kustomization.yaml'))) as Kustomization;
const baseDocs = filesUnder('deploy/k8s/base')
  .filter((f) => f.endsWith('.yaml') && !f.includes('example'))
  .flatMap((f) =>
    parseAllDocuments(read(f)).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: Record<string, unknown> }),
  );
const baseDeployment = baseDocs.find((d) => d.kind === 'Deployment')!;
const podLabels = (baseDeployment.spec!.template as { metadata: { labels: Record<string, string> } }).metadata.labels;

describe('deploy/k8s overlays', () => {
  it('deploy/k8s is the base, and each overlay builds on it', () => {
    expect(kustomization('deploy/k8s').resources).toEqual(['base']);
    for (const overlay of ['production', 'dev']) {
      const dir = join('deploy/k8s/overlays', overlay);
      const k = kustomization(dir);
      expect(k.resources?.[0]).toBe('../../base');
      for (const r of k.resources ?? []) expect(existsSync(join(dir, r)), `${overlay}: ${r}`).toBe(true);
      for (const p of k.patches ?? []) {
        expect(
          baseDocs.some((d) => d.kind === p.target.kind && d.metadata.name === p.target.name),
          `${overlay} patches ${p.target.kind}/${p.target.name}`,
        ).toBe(true);
      }
      for (const image of k.images ?? [])
        expect(read(join(dirname(dir), '..', 'base', 'deployment.yaml'))).toContain(`image: ${image.name}:`);
    }
  });

  it('production: an HPA owns the replica count of the Deployment, and pods spread over zones and nodes', () => {
    const k = kustomization('deploy/k8s/overlays/production');
    const hpa = parse(read('deploy/k8s/overlays/production/hpa.yaml')) as {
      kind: string;
      spec: {
        scaleTargetRef: { kind: string; name: string };
        minReplicas: number;
        maxReplicas: number;
        behavior: { scaleDown: { stabilizationWindowSeconds: number } };
      };
    };
    expect(hpa.kind).toBe('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: baseDeployment.metadata.name });
    // At least two left when the PodDisruptionBudget lets one go.
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(3);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(60);
    const patches = (k.patches ?? []).map((p) => parse(p.patch) as unknown);
    expect(patches).toContainEqual([{ op: 'remove', path: '/spec/replicas' }]);
    const spread = patches
      .flatMap(
        (p) =>
          (
            p as {
              spec?: {
                template?: {
                  spec?: { topologySpreadConstraints?: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[] };
                };
              };
            }
          ).spec?.template?.spec?.topologySpreadConstraints ?? [],
      )
      .filter(Boolean);
    expect(spread.map((c) => c.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const c of spread) expect(Object.entries(c.labelSelector.matchLabels).every(([key, v]) => podLabels[key] === v)).toBe(true);
  });

  it('dev: one replica and no disruption budget', () => {
    const k = kustomization('deploy/k8s/overlays/dev');
    expect(k.replicas).toEqual([{ name: baseDeployment.metadata.name, count: 1 }]);
    expect(k.patches?.some((p) => p.target.kind === 'PodDisruptionBudget' && p.patch.includes('$patch: delete'))).toBe(true);
  });

  it('kubectl kustomize builds the base and both overlays (where kubectl is installed)', () => {
    let kubectl = true;
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    } catch {
      kubectl = false;
    }
    const kinds = (dir: string): string[] =>
      kubectl
        ? parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })).map(
            (d) => (d.toJS() as { kind: string }).kind,
          )
        : [...baseDocs.map((d) => d.kind), ...(dir.endsWith('production') ? ['HorizontalPodAutoscaler'] : [])].filter(
            (kind) => !(dir.endsWith('dev') && kind === 'PodDisruptionBudget'),
          );
    expect(kinds('deploy/k8s')).toContain('PodDisruptionBudget');
    expect(kinds('deploy/k8s/overlays/production')).toEqual(
      expect.arrayContaining(['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']),
    );
    expect(kinds('deploy/k8s/overlays/dev')).not.toContain('PodDisruptionBudget');
  });
});
