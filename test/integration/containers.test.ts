import type { ResultsStore } from '@grokmap/workers';
import type { SweepResult } from '@grokmap/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContainerTestServer, dockerStatus, startContainerTestServer } from '../support/containers.js';
import {
  cliEnv,
  openTestStore,
  runCli,
  spawnCli,
  stopProcess,
  syntheticSpec,
  tempDir,
  writeSpec,
} from '../support/harness.js';

/**
 * The core end-to-end sweep against a Temporal server that testcontainers
 * starts in a container (the path a user's CI takes with Docker), instead of
 * the embedded binary. Without a Docker engine: skipped with the reason on a
 * developer's machine, failed under CI (where .ci/docker.sh provides one).
 */
const docker = await dockerStatus();
const title = docker.ok
  ? `sweep on a Temporal server in a container (${docker.image}, ${docker.network} network)`
  : `sweep on a Temporal server in a container — skipped: ${docker.reason}`;

if (!docker.ok && !process.env.CI) process.stderr.write(`containers.test.ts: ${title}\n`);

describe('container engine', () => {
  it.runIf(!!process.env.CI)('is reachable under CI', () => {
    expect(docker.ok ? 'reachable' : docker.reason).toBe('reachable');
  });
});

describe.skipIf(!docker.ok)(title, () => {
  let server: ContainerTestServer;
  let store: ResultsStore;
  let control: ReturnType<typeof spawnCli>;
  let trainer: ReturnType<typeof spawnCli>;

  beforeAll(async () => {
    if (!docker.ok) return;
    server = await startContainerTestServer(docker);
    store = await openTestStore('sqlite', server.home);
    control = spawnCli(['worker', '--queue', 'control'], cliEnv(server, 'sqlite'));
    trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], cliEnv(server, 'sqlite'));
  });

  afterAll(async () => {
    if (trainer) await stopProcess(trainer);
    if (control) await stopProcess(control);
    await store?.close();
    await server?.stop();
  });

  it('serves the default namespace from the container', async () => {
    const info = await server.client.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^\d+\.\d+/);
    expect(server.container.getId()).toMatch(/^[0-9a-f]{12,}$/);
  });

  it('runs a grid sweep to completion with every trial recorded exactly once', async () => {
    const file = writeSpec(
      tempDir('container-specs'),
      'plain',
      syntheticSpec(`container-${Date.now().toString(36)}`),
    );
    const result = await runCli(['sweep', 'start', file, '--wait', '--json'], cliEnv(server, 'sqlite'));
    expect(result.code, `${result.stderr}\n${control.output()}\n${trainer.output()}`).toBe(0);
    const out = JSON.parse(result.stdout) as SweepResult;
    expect(out.status).toBe('completed');
    expect(out.state.byStatus).toEqual({ completed: 12 });
    const trials = await store.listTrials(out.sweepId);
    expect(trials.map((t) => t.index)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(new Set(trials.map((t) => t.trialId)).size).toBe(12);
    expect(trials.every((t) => t.status === 'completed' && t.phase)).toBe(true);
    // The workflow's history lives in the container's server.
    const described = await server.client.workflow.getHandle(out.sweepId).describe();
    expect(described.status.name).toBe('COMPLETED');
  });
});
