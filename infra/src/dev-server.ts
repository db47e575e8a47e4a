import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { TemporalConnectionSettings } from './connection.js';
import { ensureTemporalBinary } from './temporal-binary.js';

/**
 * The embedded default: a real Temporal dev server (`temporal server
 * start-dev`) whose SQLite database lives under the grokmap home, so a
 * restart keeps every sweep's history. Started detached and recorded in
 * `server.json` so later commands reuse it.
 */
export interface DevServer {
  address: string;
  uiUrl?: string;
  pid: number;
  dbFile: string;
  logFile: string;
  /** True when an already running server was found and reused. */
  reused: boolean;
}

const stateSchema = z.object({
  pid: z.number().int(),
  address: z.string(),
  uiUrl: z.string().optional(),
  dbFile: z.string(),
  logFile: z.string(),
});

export interface StartDevServerOptions {
  home: string;
  logger: Logger;
  /** gRPC port; default 7233 when free, else any free port. */
  port?: number;
  uiPort?: number;
  /** Web UI on unless false. */
  ui?: boolean;
  /** Keep running after this process exits (the CLI's default); tests pass false. */
  detached?: boolean;
  dbFile?: string;
  /** Extra `start-dev` flags, e.g. dynamic config values. */
  extraArgs?: string[];
}

export function freePort(preferred?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', (err) => (preferred !== undefined ? resolve(freePort()) : reject(err)));
    server.listen(preferred ?? 0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait until the server answers a namespace description (not just an open port). */
export async function waitForServer(
  address: string,
  namespace = 'default',
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2_000 });
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  throw new Error(
    `Temporal server at ${address} did not become ready in ${timeoutMs} ms: ${(lastError as Error)?.message}`,
  );
}

function stateFile(home: string): string {
  return path.join(home, 'server.json');
}

/** The dev server's SQLite database when none is given: under the grokmap home, so a restart keeps history. */
export function defaultDbFile(home: string): string {
  return path.join(home, 'temporal.db');
}

/**
 * The `temporal` command line for the embedded server: `server start-dev`
 * on 127.0.0.1 with a database file (history survives a restart), the Web
 * UI on `uiPort` when given, else headless.
 */
export function devServerArgs(o: {
  port: number;
  uiPort?: number | undefined;
  dbFile: string;
  extraArgs?: string[] | undefined;
}): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--db-filename',
    o.dbFile,
    '--log-level',
    'warn',
    ...(o.uiPort !== undefined ? ['--ui-port', String(o.uiPort)] : ['--headless']),
    ...(o.extraArgs ?? []),
  ];
}

/** Record a detached server in `server.json` so later commands find and reuse it. */
export function recordDevServer(home: string, server: DevServer): void {
  writeFileSync(stateFile(home), JSON.stringify(server, null, 2));
}

/** The recorded embedded server, if its process is still alive. */
export function runningDevServer(home: string): DevServer | undefined {
  const file = stateFile(home);
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // A truncated file (a crash while writing it) records no server; the next start rewrites it.
    return undefined;
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success || !isDevServerProcess(parsed.data.pid)) return undefined;
  return { ...parsed.data, reused: true };
}

/**
 * Alive, and where the OS says (Linux /proc) a `start-dev` process: after a
 * reboot the recorded pid may belong to something else, which must be
 * neither reused as a server nor sent SIGTERM by `server stop`.
 */
function isDevServerProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no /proc (macOS): liveness is all we can check
  }
  return cmdline.split('\0').includes('start-dev');
}

export async function startDevServer(
  opts: StartDevServerOptions,
): Promise<DevServer & { stop(): Promise<void> }> {
  const binary = await ensureTemporalBinary(opts.home, opts.logger);
  const port = opts.port ?? (await freePort(7233));
  const ui = opts.ui !== false;
  const uiPort = ui ? (opts.uiPort ?? (await freePort(port === 7233 ? 8233 : undefined))) : undefined;
  const dbFile = opts.dbFile ?? defaultDbFile(opts.home);
  const logFile = path.join(opts.home, `temporal-${port}.log`);
  const args = devServerArgs({ port, uiPort, dbFile, extraArgs: opts.extraArgs });
  const out = openSync(logFile, 'a');
  const child = spawn(binary, args, { detached: opts.detached ?? false, stdio: ['ignore', out, out] });
  closeSync(out);
  if (opts.detached) child.unref();
  const address = `127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new Error(`temporal server exited with code ${code}; see ${logFile}`)),
    ),
  );
  exited.catch(() => undefined);
  await Promise.race([waitForServer(address), exited]);
  const server: DevServer = {
    address,
    ...(ui ? { uiUrl: `http://127.0.0.1:${uiPort}` } : {}),
    pid: child.pid!,
    dbFile,
    logFile,
    reused: false,
  };
  if (opts.detached) recordDevServer(opts.home, server);
  opts.logger.info({ address, uiUrl: server.uiUrl, dbFile }, 'temporal dev server started');
  return {
    ...server,
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
      if (opts.detached) rmSync(stateFile(opts.home), { force: true });
    },
  };
}

/** Stop the recorded embedded server. Returns false if none was running. */
export async function stopDevServer(home: string): Promise<boolean> {
  const running = runningDevServer(home);
  if (!running) return false;
  process.kill(running.pid, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(running.pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(running.pid)) process.kill(running.pid, 'SIGKILL');
  rmSync(stateFile(home), { force: true });
  return true;
}

/**
 * The server every command talks to: GROKMAP_TEMPORAL_ADDRESS when set,
 * else the embedded dev server (reused if running, started otherwise).
 */
export async function ensureTemporal(opts: {
  home: string;
  logger: Logger;
  external?: TemporalConnectionSettings;
}): Promise<{ settings: TemporalConnectionSettings; server?: DevServer }> {
  if (opts.external) return { settings: opts.external };
  const running = runningDevServer(opts.home);
  if (running) return { settings: { address: running.address, namespace: 'default' }, server: running };
  const started = await startDevServer({ home: opts.home, logger: opts.logger, detached: true });
  return { settings: { address: started.address, namespace: 'default' }, server: started };
}
