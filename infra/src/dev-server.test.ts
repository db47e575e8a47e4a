import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type DevServer,
  defaultDbFile,
  devServerArgs,
  ensureTemporal,
  freePort,
  recordDevServer,
  runningDevServer,
  stopDevServer,
} from './dev-server.js';
import { grokmapHome } from './paths.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'grokmap-home-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function server(pid: number): DevServer {
  return {
    address: '127.0.0.1:7299',
    uiUrl: 'http://127.0.0.1:8299',
    pid,
    dbFile: defaultDbFile(home),
    logFile: path.join(home, 'temporal-7299.log'),
    reused: false,
  };
}

/**
 * A live stand-in for the server: a script named `temporal` run as
 * `temporal server start-dev`, as the real one is (its command line is what
 * tells a server from an unrelated process that got a recycled pid).
 */
async function fakeServer(): Promise<ChildProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'grokmap-fake-temporal-'));
  const bin = path.join(dir, 'temporal');
  writeFileSync(bin, '#!/bin/sh\nsleep 60\n', { mode: 0o755 });
  const child = spawn(bin, ['server', 'start-dev', '--port', '7299'], { stdio: 'ignore' });
  children.push(child);
  // Until the exec, the child's command line is still node's.
  const cmdline = `/proc/${child.pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) {
    await vi.waitFor(() => expect(readFileSync(cmdline, 'utf8')).toContain('start-dev'));
  }
  return child;
}
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A pid that has exited (and been reaped). */
function deadPid(): number {
  const pid = spawnSync('true').pid;
  expect(pid).toBeGreaterThan(0);
  return pid;
}

describe('the embedded server command line', () => {
  it('the database file defaults to temporal.db under the grokmap home', () => {
    expect(defaultDbFile('/srv/.grokmap')).toBe('/srv/.grokmap/temporal.db');
  });

  it('is `server start-dev` on loopback with a database file (history survives) and the Web UI on its port', () => {
    expect(devServerArgs({ port: 7233, uiPort: 8233, dbFile: '/srv/.grokmap/temporal.db' })).toEqual([
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '7233',
      '--db-filename',
      '/srv/.grokmap/temporal.db',
      '--log-level',
      'warn',
      '--ui-port',
      '8233',
    ]);
  });

  it('without a UI port it is headless, and extra flags go last', () => {
    const args = devServerArgs({
      port: 40001,
      dbFile: '/tmp/x.db',
      extraArgs: ['--dynamic-config-value', 'limit.blobSize.error=1'],
    });
    expect(args).toEqual([
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '40001',
      '--db-filename',
      '/tmp/x.db',
      '--log-level',
      'warn',
      '--headless',
      '--dynamic-config-value',
      'limit.blobSize.error=1',
    ]);
    expect(args).not.toContain('--ui-port');
  });
});

describe('server.json', () => {
  it('a recorded server whose process is alive is found again, marked reused', async () => {
    const pid = (await fakeServer()).pid!;
    recordDevServer(home, server(pid));
    expect(JSON.parse(readFileSync(path.join(home, 'server.json'), 'utf8'))).toMatchObject({
      pid,
      address: '127.0.0.1:7299',
    });
    expect(runningDevServer(home)).toEqual({ ...server(pid), reused: true });
  });

  it('a server recorded without a UI comes back without one', async () => {
    const { uiUrl: _, ...headless } = server((await fakeServer()).pid!);
    recordDevServer(home, headless);
    const found = runningDevServer(home);
    expect(found?.address).toBe('127.0.0.1:7299');
    expect(found).not.toHaveProperty('uiUrl');
  });

  it('no file, a dead pid, or a file of the wrong shape means no running server', () => {
    expect(runningDevServer(home)).toBeUndefined();
    recordDevServer(home, server(deadPid()));
    expect(runningDevServer(home)).toBeUndefined();
    writeFileSync(path.join(home, 'server.json'), JSON.stringify({ pid: 'one', address: 7 }));
    expect(runningDevServer(home)).toBeUndefined();
    // Cut short by a crash while it was written.
    writeFileSync(path.join(home, 'server.json'), '{"pid": 12');
    expect(runningDevServer(home)).toBeUndefined();
  });

  it.skipIf(!existsSync('/proc/self/cmdline'))(
    'a recorded pid now held by another process is not a server, and server stop leaves it alone',
    async () => {
      const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
      children.push(unrelated);
      recordDevServer(home, server(unrelated.pid!));
      expect(runningDevServer(home)).toBeUndefined();
      expect(await stopDevServer(home)).toBe(false);
      expect(unrelated.exitCode).toBeNull();
      expect(unrelated.signalCode).toBeNull();
    },
  );

  it('stopDevServer ends the recorded process and removes server.json; false when none runs', async () => {
    expect(await stopDevServer(home)).toBe(false);
    const child = await fakeServer();
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_, signal) => r(signal)));
    recordDevServer(home, server(child.pid!));
    expect(await stopDevServer(home)).toBe(true);
    expect(await exited).toBe('SIGTERM');
    expect(existsSync(path.join(home, 'server.json'))).toBe(false);
    expect(runningDevServer(home)).toBeUndefined();
  });
});

describe('ensureTemporal', () => {
  const logger = pino({ enabled: false });

  it('uses the external settings as given and starts nothing', async () => {
    const external = { address: 'temporal.example.org:7233', namespace: 'sweeps' };
    expect(await ensureTemporal({ home, logger, external })).toEqual({ settings: external });
    expect(existsSync(path.join(home, 'server.json'))).toBe(false);
  });

  it('reuses a recorded running embedded server on the default namespace', async () => {
    const pid = (await fakeServer()).pid!;
    recordDevServer(home, server(pid));
    expect(await ensureTemporal({ home, logger })).toEqual({
      settings: { address: '127.0.0.1:7299', namespace: 'default' },
      server: { ...server(pid), reused: true },
    });
  });
});

describe('freePort', () => {
  it('returns the preferred port when it is free, another one when it is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const other = await freePort(port);
      expect(other).toBeGreaterThan(0);
      expect(other).not.toBe(port);
    } finally {
      await new Promise((r) => taken.close(r));
    }
    expect(await freePort(port)).toBe(port);
  });

  it('without a preference gives some free port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1023);
    expect(port).toBeLessThan(65536);
  });
});

describe('grokmapHome', () => {
  it('is GROKMAP_HOME made absolute and created', () => {
    const wanted = path.join(home, 'nested', 'state');
    expect(grokmapHome({ GROKMAP_HOME: wanted })).toBe(wanted);
    expect(existsSync(wanted)).toBe(true);
    expect(grokmapHome({ GROKMAP_HOME: `${wanted}/../state/` })).toBe(wanted);
  });
});
