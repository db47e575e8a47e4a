import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import {
  connectionFromEnv,
  connectOptions,
  describeConnection,
  startDevServer,
  type TemporalConnectionSettings,
} from '@grokmap/infra';
import { openStore, type ResultsStore } from '@grokmap/workers';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger, runCli, spawnCli, stopProcess, tempDir, waitFor } from '../support/harness.js';

/**
 * Security settings end to end. `temporal server start-dev` has no TLS
 * flags (checked with `temporal server start-dev --help`, CLI 1.5.1), so a
 * TLS-terminating proxy stands in front of a real dev server: the client
 * and worker connections do real TLS and mTLS handshakes against it, with
 * certificates made here by openssl.
 */

const API_KEY = 'gmk_live_Sup3rSecretApiKey_do-not-log';
const DB_PASSWORD = 'pg-Pa55w0rd-do-not-log';

interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
function makePki(): Pki {
  const dir = tempDir('pki');
  const ca = (name: string) => {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
  };
  const leaf = (name: string, ext: string) => {
    openssl(
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      ],
      dir,
    );
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
  };
  ca('ca');
  ca('other-ca');
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.pem'),
  };
}

/** A TLS front for a plaintext gRPC server; with `mtls`, clients must present a certificate from the CA. */
async function tlsProxy(
  pki: Pki,
  target: string,
  mtls: boolean,
): Promise<{ address: string; close(): void }> {
  const [host, port] = target.split(':');
  const server = tls.createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ca: readFileSync(pki.ca),
      requestCert: mtls,
      rejectUnauthorized: mtls,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      const upstream = net.connect(Number(port), host!);
      socket.pipe(upstream).pipe(socket);
      const end = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', end);
      upstream.on('error', end);
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${address.port}`, close: () => server.close() };
}

async function canReach(settings: TemporalConnectionSettings): Promise<true | string> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...connectOptions(settings), connectTimeout: 5_000 });
    await connection.workflowService.describeNamespace({ namespace: settings.namespace });
    return true;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function workerCanReach(settings: TemporalConnectionSettings): Promise<true | string> {
  try {
    const connection = await NativeConnection.connect(connectOptions(settings));
    await connection.workflowService.describeNamespace({ namespace: settings.namespace });
    await connection.close();
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('connection security: TLS, mTLS, API key (through a TLS proxy)', () => {
  const home = tempDir('security');
  let server: Awaited<ReturnType<typeof startDevServer>>;
  let pki: Pki;
  let tlsFront: Awaited<ReturnType<typeof tlsProxy>>;
  let mtlsFront: Awaited<ReturnType<typeof tlsProxy>>;

  beforeAll(async () => {
    pki = makePki();
    server = await startDevServer({ home, logger, ui: false, detached: false });
    tlsFront = await tlsProxy(pki, server.address, false);
    mtlsFront = await tlsProxy(pki, server.address, true);
  });

  afterAll(async () => {
    tlsFront?.close();
    mtlsFront?.close();
    await server?.stop();
  });

  it('TLS: connects with the server CA from GROKMAP_TEMPORAL_TLS_CA; refuses an unknown CA', async () => {
    const settings = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: tlsFront.address,
      GROKMAP_TEMPORAL_TLS_CA: pki.ca,
    })!;
    expect(settings.tls?.serverRootCACertificate).toBeDefined();
    expect(describeConnection(settings)).toMatch(/ TLS$/);
    expect(await canReach(settings)).toBe(true);
    expect(await workerCanReach(settings)).toBe(true);

    const wrongCa = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: tlsFront.address,
      GROKMAP_TEMPORAL_TLS_CA: pki.otherCa,
    })!;
    expect(await canReach(wrongCa)).not.toBe(true);
    // Plaintext to a TLS port fails too.
    expect(await canReach({ address: tlsFront.address, namespace: 'default' })).not.toBe(true);
  });

  it('mTLS: connects with a client certificate and key; refused without one', async () => {
    const settings = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: mtlsFront.address,
      GROKMAP_TEMPORAL_TLS_CA: pki.ca,
      GROKMAP_TEMPORAL_TLS_CERT: pki.clientCert,
      GROKMAP_TEMPORAL_TLS_KEY: pki.clientKey,
      GROKMAP_TEMPORAL_TLS_SERVER_NAME: 'localhost',
    })!;
    expect(describeConnection(settings)).toMatch(/ mTLS$/);
    expect(await canReach(settings)).toBe(true);
    expect(await workerCanReach(settings)).toBe(true);
    const noCert = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: mtlsFront.address,
      GROKMAP_TEMPORAL_TLS_CA: pki.ca,
    })!;
    expect(await canReach(noCert)).not.toBe(true);
  });

  it('API key: implies TLS, is sent over it, and is never printed', async () => {
    const settings = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: tlsFront.address,
      GROKMAP_TEMPORAL_TLS_CA: pki.ca,
      GROKMAP_TEMPORAL_API_KEY: API_KEY,
    })!;
    expect(settings.tls).toBeDefined();
    expect(connectOptions(settings).apiKey).toBe(API_KEY);
    expect(describeConnection(settings)).not.toContain(API_KEY);
    expect(describeConnection(settings)).toContain('api-key=***');
    // The dev server ignores the key; the connection over TLS carrying it works.
    expect(await canReach(settings)).toBe(true);
    // With an API key and no TLS settings, TLS is still on (a key never travels in plaintext).
    const bare = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: 'temporal.example.org:7233',
      GROKMAP_TEMPORAL_API_KEY: API_KEY,
    })!;
    expect(connectOptions(bare).tls).toBe(true);
  });

  it('bad settings are refused with the variable named and no secret in the message', () => {
    const refuse = (env: NodeJS.ProcessEnv): string => {
      try {
        connectionFromEnv(env);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`accepted ${JSON.stringify(Object.keys(env))}`);
    };
    expect(refuse({ GROKMAP_TEMPORAL_ADDRESS: 'no-port', GROKMAP_TEMPORAL_API_KEY: API_KEY })).toMatch(
      /GROKMAP_TEMPORAL_ADDRESS/,
    );
    expect(refuse({ GROKMAP_TEMPORAL_ADDRESS: 'h:1', GROKMAP_TEMPORAL_TLS_CERT: pki.clientCert })).toMatch(
      /go together/,
    );
    expect(
      refuse({ GROKMAP_TEMPORAL_ADDRESS: 'h:1', GROKMAP_TEMPORAL_TLS_CA: '/nonexistent/ca.pem' }),
    ).toMatch(/GROKMAP_TEMPORAL_TLS_CA: cannot read/);
    expect(refuse({ GROKMAP_TEMPORAL_ADDRESS: 'h:1', GROKMAP_TEMPORAL_TLS: 'yes' })).toMatch(
      /GROKMAP_TEMPORAL_TLS/,
    );
    for (const env of [
      { GROKMAP_TEMPORAL_ADDRESS: 'no-port', GROKMAP_TEMPORAL_API_KEY: API_KEY },
      {
        GROKMAP_TEMPORAL_ADDRESS: 'h:1',
        GROKMAP_TEMPORAL_TLS_CA: '/nonexistent',
        GROKMAP_TEMPORAL_API_KEY: API_KEY,
      },
    ])
      expect(refuse(env)).not.toContain(API_KEY);
    // TLS can be turned off explicitly (a local server), even with a CA configured.
    expect(
      connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: 'h:1', GROKMAP_TEMPORAL_TLS: '0' })?.tls,
    ).toBeUndefined();
  });

  it('secrets never appear in CLI output or worker logs', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GROKMAP_HOME: home,
      GROKMAP_TEMPORAL_ADDRESS: tlsFront.address,
      GROKMAP_TEMPORAL_TLS_CA: pki.ca,
      GROKMAP_TEMPORAL_API_KEY: API_KEY,
      // A database nobody listens on: the command fails, and says so without the password.
      GROKMAP_DATABASE_URL: `postgres://grokmap:${DB_PASSWORD}@127.0.0.1:9/grokmap`,
      GROKMAP_LOG_LEVEL: 'debug',
    };
    const outputs: string[] = [];
    const cancel = await runCli(['sweep', 'cancel', 'no-such-sweep'], env);
    outputs.push(cancel.stdout + cancel.stderr);
    const status = await runCli(['sweep', 'status', 'no-such-sweep', '--json'], env);
    outputs.push(status.stdout + status.stderr);
    expect(status.code).not.toBe(0);
    // The failure is reported with the database URL, its password left out.
    expect(status.stderr).toMatch(/postgres:\/\/grokmap@127\.0\.0\.1:9\/grokmap/);
    // The cancel reached the server over TLS with the key and reports the unknown sweep.
    expect(cancel.code).not.toBe(0);
    expect(cancel.stderr).toMatch(/no-such-sweep|not found/i);
    const worker = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '1', '--json'], env);
    await waitFor(
      'the worker to exit or log',
      async () => worker.exitCode !== null || worker.output().length > 0,
      120_000,
    );
    await waitFor(
      'the worker to give up on the database',
      async () => worker.exitCode !== null,
      120_000,
    ).catch(() => undefined);
    await stopProcess(worker, 'SIGKILL');
    outputs.push(worker.output());
    const all = outputs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(API_KEY);
    expect(all).not.toContain(DB_PASSWORD);
  });
});

describe('results store: parameterised queries only', () => {
  const EVIL = `'); DROP TABLE trials;--`;
  const stores: [string, () => Promise<ResultsStore>][] = [
    ['sqlite', () => openStore({ sqlitePath: path.join(tempDir('sqli'), 'grokmap.db'), logger })],
    ...(process.env.GROKMAP_TEST_PG_URL
      ? [
          ['postgres', () => openStore({ databaseUrl: process.env.GROKMAP_TEST_PG_URL!, logger })] as [
            string,
            () => Promise<ResultsStore>,
          ],
        ]
      : []),
  ];
  it.each(stores)(
    '%s: ids, names and parameter values holding SQL round-trip unchanged',
    async (_kind, open) => {
      const store = await open();
      try {
        const sweepId = `sweep${EVIL}${Date.now()}`;
        const trialId = `${sweepId}.t${EVIL}`;
        const params = { [`key${EVIL}`]: EVIL, nested: { q: `"; DELETE FROM sweeps; --` } };
        const now = new Date().toISOString();
        await store.saveSweep({
          sweepId,
          name: `name${EVIL}`,
          trainer: `trainer${EVIL}`,
          method: 'grid',
          spec: { note: EVIL },
          status: 'running',
          plannedTrials: 1,
          createdAt: now,
          updatedAt: now,
        });
        await store.markTrialRunning({ sweepId, trialId, index: 0, params, attempt: 1 });
        await store.recordTrialFailure({
          sweepId,
          trialId,
          index: 0,
          params,
          attempts: 1,
          status: 'error',
          error: EVIL,
        });
        await store.setSweepStatus(sweepId, 'failed', { verdict: EVIL });
        const trial = await store.getTrial(trialId);
        expect(trial?.trialId).toBe(trialId);
        expect(trial?.params).toEqual(params);
        expect(trial?.error).toBe(EVIL);
        expect((await store.listTrials(sweepId)).map((t) => t.trialId)).toEqual([trialId]);
        const sweep = await store.getSweep(sweepId);
        expect(sweep?.name).toBe(`name${EVIL}`);
        expect(sweep?.verdict).toBe(EVIL);
        expect(sweep?.spec).toEqual({ note: EVIL });
        // The tables are still there and still hold other rows.
        expect((await store.listSweeps()).some((s) => s.sweepId === sweepId)).toBe(true);
      } finally {
        await store.close();
      }
    },
  );
});
