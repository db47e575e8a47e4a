import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionFromEnv, connectOptions, describeConnection } from './connection.js';

let dir: string;
let ca: string;
let cert: string;
let key: string;
const CA_PEM = '-----BEGIN CERTIFICATE-----\nfake-ca\n-----END CERTIFICATE-----\n';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nfake-client\n-----END CERTIFICATE-----\n';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nfake-key\n-----END PRIVATE KEY-----\n';

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'grokmap-tls-'));
  ca = path.join(dir, 'ca.pem');
  cert = path.join(dir, 'client.pem');
  key = path.join(dir, 'client.key');
  writeFileSync(ca, CA_PEM);
  writeFileSync(cert, CERT_PEM);
  writeFileSync(key, KEY_PEM);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ADDRESS = 'temporal.example.org:7233';

describe('connectionFromEnv', () => {
  it('is undefined without GROKMAP_TEMPORAL_ADDRESS (the embedded server is used), whatever else is set', () => {
    expect(connectionFromEnv({})).toBeUndefined();
    expect(
      connectionFromEnv({ GROKMAP_TEMPORAL_NAMESPACE: 'ns', GROKMAP_TEMPORAL_API_KEY: 'k', PATH: '/bin' }),
    ).toBeUndefined();
  });

  it('an address alone is plaintext on the default namespace', () => {
    const s = connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: ADDRESS });
    expect(s).toEqual({ address: ADDRESS, namespace: 'default' });
    expect(connectOptions(s!)).toEqual({ address: ADDRESS });
    expect(describeConnection(s!)).toBe(`${ADDRESS} namespace=default plaintext`);
  });

  it('takes the namespace and accepts IP and bracketed IPv6 addresses', () => {
    expect(
      connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: '10.0.0.5:7233', GROKMAP_TEMPORAL_NAMESPACE: 'sweeps' }),
    ).toEqual({ address: '10.0.0.5:7233', namespace: 'sweeps' });
    expect(connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: '[::1]:7233' })?.address).toBe('[::1]:7233');
  });

  it('GROKMAP_TEMPORAL_TLS=1 turns on TLS with system roots (tls: true to the SDK)', () => {
    const s = connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: ADDRESS, GROKMAP_TEMPORAL_TLS: '1' });
    expect(s).toEqual({ address: ADDRESS, namespace: 'default', tls: {} });
    expect(connectOptions(s!)).toEqual({ address: ADDRESS, tls: true });
    expect(describeConnection(s!)).toBe(`${ADDRESS} namespace=default TLS`);
  });

  it('a CA file and server name imply TLS and are read from disk', () => {
    const s = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: ADDRESS,
      GROKMAP_TEMPORAL_TLS_CA: ca,
      GROKMAP_TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(s?.tls?.serverName).toBe('temporal.internal');
    expect(s?.tls?.serverRootCACertificate?.toString()).toBe(CA_PEM);
    expect(s?.tls?.clientCertPair).toBeUndefined();
    expect(connectOptions(s!).tls).toBe(s?.tls);
  });

  it('client cert and key give mTLS with both files read', () => {
    const s = connectionFromEnv({
      GROKMAP_TEMPORAL_ADDRESS: ADDRESS,
      GROKMAP_TEMPORAL_TLS_CERT: cert,
      GROKMAP_TEMPORAL_TLS_KEY: key,
    });
    expect(s?.tls?.clientCertPair?.crt.toString()).toBe(CERT_PEM);
    expect(s?.tls?.clientCertPair?.key.toString()).toBe(KEY_PEM);
    expect(describeConnection(s!)).toBe(`${ADDRESS} namespace=default mTLS`);
  });

  it('GROKMAP_TEMPORAL_TLS=0/false turns TLS off even with a CA given', () => {
    for (const off of ['0', 'false']) {
      expect(
        connectionFromEnv({
          GROKMAP_TEMPORAL_ADDRESS: ADDRESS,
          GROKMAP_TEMPORAL_TLS: off,
          GROKMAP_TEMPORAL_TLS_CA: ca,
        }),
      ).toEqual({ address: ADDRESS, namespace: 'default' });
    }
  });

  it('an API key implies TLS, reaches the SDK, and never shows in the description', () => {
    const secret = 'sk-very-secret-123';
    const s = connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: ADDRESS, GROKMAP_TEMPORAL_API_KEY: secret });
    expect(s).toEqual({ address: ADDRESS, namespace: 'default', tls: {}, apiKey: secret });
    expect(connectOptions(s!)).toEqual({ address: ADDRESS, tls: true, apiKey: secret });
    const text = describeConnection(s!);
    expect(text).toBe(`${ADDRESS} namespace=default TLS api-key=***`);
    expect(text).not.toContain(secret);
  });

  it('an API key with TLS explicitly off is refused: the key would travel in plaintext', () => {
    for (const off of ['0', 'false']) {
      expect(() =>
        connectionFromEnv({
          GROKMAP_TEMPORAL_ADDRESS: ADDRESS,
          GROKMAP_TEMPORAL_API_KEY: 'sk-secret',
          GROKMAP_TEMPORAL_TLS: off,
        }),
      ).toThrow(/GROKMAP_TEMPORAL_API_KEY needs TLS, and GROKMAP_TEMPORAL_TLS turns it off/);
    }
  });

  it.each([
    ['no port', 'temporal.example.org'],
    ['a URL scheme', 'http://temporal.example.org:7233'],
    ['a non-numeric port', 'temporal.example.org:grpc'],
    ['a path', 'temporal.example.org:7233/ns'],
  ])('an address with %s is refused, naming GROKMAP_TEMPORAL_ADDRESS', (_, address) => {
    expect(() => connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: address })).toThrow(
      /invalid Temporal connection settings: GROKMAP_TEMPORAL_ADDRESS: must be host:port/,
    );
  });

  it('an error about a bad address does not echo the API key', () => {
    const secret = 'sk-do-not-print';
    let message = '';
    try {
      connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: 'nope', GROKMAP_TEMPORAL_API_KEY: secret });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('GROKMAP_TEMPORAL_ADDRESS');
    expect(message).not.toContain(secret);
  });

  it('a TLS switch other than 0/1/true/false is refused, naming GROKMAP_TEMPORAL_TLS', () => {
    expect(() =>
      connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: ADDRESS, GROKMAP_TEMPORAL_TLS: 'yes' }),
    ).toThrow(/GROKMAP_TEMPORAL_TLS:/);
  });

  it('a variable set to nothing counts as unset: no address means the embedded server, no namespace the default', () => {
    expect(
      connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: '', GROKMAP_TEMPORAL_API_KEY: ' ' }),
    ).toBeUndefined();
    expect(connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: ADDRESS, GROKMAP_TEMPORAL_NAMESPACE: '' })).toEqual({
      address: ADDRESS,
      namespace: 'default',
    });
  });

  it('a client cert without its key (or the reverse) is refused, naming both variables', () => {
    const both = /GROKMAP_TEMPORAL_TLS_CERT and GROKMAP_TEMPORAL_TLS_KEY go together/;
    expect(() =>
      connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: ADDRESS, GROKMAP_TEMPORAL_TLS_CERT: cert }),
    ).toThrow(both);
    expect(() =>
      connectionFromEnv({ GROKMAP_TEMPORAL_ADDRESS: ADDRESS, GROKMAP_TEMPORAL_TLS_KEY: key }),
    ).toThrow(both);
  });

  it.each([
    ['GROKMAP_TEMPORAL_TLS_CA', { GROKMAP_TEMPORAL_TLS_CA: 'MISSING' }],
    ['GROKMAP_TEMPORAL_TLS_CERT', { GROKMAP_TEMPORAL_TLS_CERT: 'MISSING', GROKMAP_TEMPORAL_TLS_KEY: 'KEY' }],
    ['GROKMAP_TEMPORAL_TLS_KEY', { GROKMAP_TEMPORAL_TLS_CERT: 'CERT', GROKMAP_TEMPORAL_TLS_KEY: 'MISSING' }],
  ])('a %s file that does not exist is refused, naming the variable and the path', (variable, vars) => {
    const missing = path.join(dir, 'does-not-exist.pem');
    const env: NodeJS.ProcessEnv = { GROKMAP_TEMPORAL_ADDRESS: ADDRESS };
    for (const [k, v] of Object.entries(vars)) env[k] = v === 'MISSING' ? missing : v === 'CERT' ? cert : key;
    expect(() => connectionFromEnv(env)).toThrow(`${variable}: cannot read ${missing}`);
  });
});
