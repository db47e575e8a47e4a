import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevServer } from '@grokmap/infra';
import {
  installTemporalRuntime,
  openStore,
  type ResultsStore,
  startControlWorker,
  startTrainerWorker,
} from '@grokmap/workers';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { stringify } from 'yaml';

/** Shared pieces of the integration suites: a real dev server, real stores, real worker processes. */

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI_ENTRY = path.join(REPO_ROOT, 'cli', 'src', 'main.ts');
export const logger = pino({ level: process.env.GROKMAP_TEST_LOG_LEVEL ?? 'warn' });

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `grokmap-${prefix}-`));
}

export interface TestServer {
  address: string;
  home: string;
  client: Client;
  stop(): Promise<void>;
}

/** A real Temporal dev server on a free port with its own database file. */
export async function startTestServer(home = tempDir('server')): Promise<TestServer> {
  const server = await startDevServer({ home, logger, ui: false, detached: false });
  const connection = await Connection.connect({ address: server.address });
  return {
    address: server.address,
    home,
    client: new Client({ connection, namespace: 'default' }),
    async stop() {
      await connection.close();
      await server.stop();
    },
  };
}

/**
 * A real dev server with a control and a trainer worker (queue `cpu`) in this process, on a SQLite
 * store: for scripts that record or measure workflow histories.
 */
export async function startServerWithWorkers(
  concurrency: number,
): Promise<{ server: TestServer; store: ResultsStore; stop(): Promise<void> }> {
  const server = await startTestServer();
  const store = await openTestStore('sqlite', server.home);
  installTemporalRuntime(logger);
  const connection = await NativeConnection.connect({ address: server.address });
  const control = await startControlWorker({ connection, namespace: 'default', store, logger });
  const trainer = await startTrainerWorker({
    connection,
    namespace: 'default',
    queue: 'cpu',
    concurrency,
    store,
    checkpointDir: path.join(server.home, 'checkpoints'),
    logger,
  });
  return {
    server,
    store,
    async stop() {
      await Promise.all([control.shutdown(), trainer.shutdown()]);
      await connection.close();
      await store.close();
      await server.stop();
    },
  };
}

export type StoreKind = 'sqlite' | 'postgres';

/** Stores to run each suite against: SQLite always, PostgreSQL when a test database is configured. */
export function storeKinds(): StoreKind[] {
  return process.env.GROKMAP_TEST_PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

export function databaseUrlFor(kind: StoreKind, home: string): string {
  return kind === 'postgres' ? process.env.GROKMAP_TEST_PG_URL! : path.join(home, 'grokmap.db');
}

export async function openTestStore(kind: StoreKind, home: string): Promise<ResultsStore> {
  const store = await openStore(
    kind === 'postgres'
      ? { databaseUrl: process.env.GROKMAP_TEST_PG_URL!, logger }
      : { sqlitePath: path.join(home, 'grokmap.db'), logger },
  );
  await store.migrate();
  return store;
}

/** Environment that points the CLI at the test server, home and store. */
export function cliEnv(server: { address: string; home: string }, kind: StoreKind): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GROKMAP_TEMPORAL_ADDRESS: server.address,
    GROKMAP_HOME: server.home,
    ...(kind === 'postgres'
      ? { GROKMAP_DATABASE_URL: process.env.GROKMAP_TEST_PG_URL }
      : { GROKMAP_DATABASE_URL: '' }),
    GROKMAP_LOG_LEVEL: process.env.GROKMAP_TEST_LOG_LEVEL ?? 'warn',
  };
}

const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Start `grokmap <args>` as its own process (a worker, or any command). With `tty`, on a
 * pseudo-terminal (under util-linux `script`, which passes on what the command draws and its exit code).
 */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { tty?: boolean } = {},
): ChildProcess & { output: () => string } {
  const command = [process.execPath, '--import', 'tsx', CLI_ENTRY, ...args];
  const [file, ...argv] = options.tty
    ? ['script', '-qfec', command.map(shellQuote).join(' '), '/dev/null']
    : command;
  const child = spawn(file!, argv, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return Object.assign(child, { output: () => output });
}

/** Run `grokmap <args>` to completion. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

export function writeSpec(dir: string, name: string, spec: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(spec));
  return file;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A small synthetic sweep: weight decay × data fraction × seeds, all four phases possible. */
export function syntheticSpec(
  name: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    trainer: 'synthetic',
    method: 'grid',
    budget: { trials: 12, parallel: 4 },
    parameters: {
      weight_decay: { values: [0.01, 0.1, 1] },
      data_fraction: { values: [0.2, 0.7] },
      seed: { values: [0, 1] },
    },
    fixed: { max_steps: 20000, eval_every: 50, model_size: 64 },
    phase: { threshold: 0.99, delay_steps: 1000 },
    ...overrides,
  };
}

/**
 * A small grid of slow, checkpointing synthetic trials (8 of them) with a short heartbeat
 * timeout: for tests that kill a worker mid-trial and expect retries to resume.
 */
export function resumableSyntheticSpec(
  name: string,
  overrides: Record<string, unknown> = {},
  stepDelayMs = 60,
): Record<string, unknown> {
  return syntheticSpec(name, {
    budget: { trials: 8, parallel: 4 },
    parameters: {
      weight_decay: { values: [0.1, 1] },
      data_fraction: { values: [0.3, 0.7] },
      seed: { values: [0, 1] },
    },
    fixed: {
      max_steps: 4000,
      eval_every: 100,
      model_size: 64,
      step_delay_ms: stepDelayMs,
      checkpoint_every: 400,
    },
    limits: { heartbeat_timeout_s: 4, max_attempts: 5 },
    ...overrides,
  });
}

/** Trials of a sweep with at least one checkpoint file in the worker's checkpoint folder (named by trial id). */
export function checkpointedTrials(home: string, sweepId: string): string[] {
  const dir = path.join(home, 'checkpoints');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter(
    (d) => d.startsWith(sweepId) && readdirSync(path.join(dir, d)).some((f) => f.endsWith('.ckpt')),
  );
}
