import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * How to reach a Temporal server: an address plus namespace, optional TLS
 * (server CA, client cert/key for mTLS) and an API key (Temporal Cloud).
 * Read from GROKMAP_TEMPORAL_* variables; the API key never appears in
 * `describeConnection`, logs or errors.
 */
export interface TemporalConnectionSettings {
  address: string;
  namespace: string;
  tls?: {
    serverName?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
}

const envSchema = z.object({
  GROKMAP_TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-_[\]:]+:\d+$/, 'must be host:port, e.g. temporal.example.org:7233')
    .optional(),
  GROKMAP_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  GROKMAP_TEMPORAL_TLS: z.enum(['0', '1', 'true', 'false']).optional(),
  GROKMAP_TEMPORAL_TLS_CA: z.string().optional(),
  GROKMAP_TEMPORAL_TLS_CERT: z.string().optional(),
  GROKMAP_TEMPORAL_TLS_KEY: z.string().optional(),
  GROKMAP_TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  GROKMAP_TEMPORAL_API_KEY: z.string().min(1).optional(),
});

/** Settings from the environment, or undefined when no external server is configured. */
export function connectionFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): TemporalConnectionSettings | undefined {
  // A variable set to nothing (`export GROKMAP_TEMPORAL_ADDRESS=`) counts as unset, as GROKMAP_HOME does.
  const set = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => !k.startsWith('GROKMAP_TEMPORAL_') || (v ?? '').trim() !== ''),
  );
  const parsed = envSchema.safeParse(set);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid Temporal connection settings: ${problems}`);
  }
  const e = parsed.data;
  if (!e.GROKMAP_TEMPORAL_ADDRESS) return undefined;
  if ((e.GROKMAP_TEMPORAL_TLS_CERT === undefined) !== (e.GROKMAP_TEMPORAL_TLS_KEY === undefined)) {
    throw new Error(
      'invalid Temporal connection settings: GROKMAP_TEMPORAL_TLS_CERT and GROKMAP_TEMPORAL_TLS_KEY go together (mTLS)',
    );
  }
  const tlsOff = e.GROKMAP_TEMPORAL_TLS === '0' || e.GROKMAP_TEMPORAL_TLS === 'false';
  if (tlsOff && e.GROKMAP_TEMPORAL_API_KEY !== undefined) {
    throw new Error(
      'invalid Temporal connection settings: GROKMAP_TEMPORAL_API_KEY needs TLS, and GROKMAP_TEMPORAL_TLS turns it off (the key would travel in plaintext)',
    );
  }
  const wantsTls =
    e.GROKMAP_TEMPORAL_TLS === '1' ||
    e.GROKMAP_TEMPORAL_TLS === 'true' ||
    e.GROKMAP_TEMPORAL_TLS_CA !== undefined ||
    e.GROKMAP_TEMPORAL_TLS_CERT !== undefined ||
    e.GROKMAP_TEMPORAL_API_KEY !== undefined;
  const settings: TemporalConnectionSettings = {
    address: e.GROKMAP_TEMPORAL_ADDRESS,
    namespace: e.GROKMAP_TEMPORAL_NAMESPACE,
  };
  if (wantsTls && !tlsOff) {
    settings.tls = {
      ...(e.GROKMAP_TEMPORAL_TLS_SERVER_NAME ? { serverName: e.GROKMAP_TEMPORAL_TLS_SERVER_NAME } : {}),
      ...(e.GROKMAP_TEMPORAL_TLS_CA
        ? { serverRootCACertificate: readPem(e.GROKMAP_TEMPORAL_TLS_CA, 'GROKMAP_TEMPORAL_TLS_CA') }
        : {}),
      ...(e.GROKMAP_TEMPORAL_TLS_CERT && e.GROKMAP_TEMPORAL_TLS_KEY
        ? {
            clientCertPair: {
              crt: readPem(e.GROKMAP_TEMPORAL_TLS_CERT, 'GROKMAP_TEMPORAL_TLS_CERT'),
              key: readPem(e.GROKMAP_TEMPORAL_TLS_KEY, 'GROKMAP_TEMPORAL_TLS_KEY'),
            },
          }
        : {}),
    };
  }
  if (e.GROKMAP_TEMPORAL_API_KEY) settings.apiKey = e.GROKMAP_TEMPORAL_API_KEY;
  return settings;
}

function readPem(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${variable}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Options accepted by both `Connection.connect` (client) and `NativeConnection.connect` (worker). */
export function connectOptions(s: TemporalConnectionSettings): {
  address: string;
  tls?: TemporalConnectionSettings['tls'] | boolean;
  apiKey?: string;
} {
  return {
    address: s.address,
    ...(s.tls ? { tls: Object.keys(s.tls).length > 0 ? s.tls : true } : {}),
    ...(s.apiKey ? { apiKey: s.apiKey } : {}),
  };
}

/** A printable description that never includes secrets. */
export function describeConnection(s: TemporalConnectionSettings): string {
  const tls = s.tls ? (s.tls.clientCertPair ? 'mTLS' : 'TLS') : 'plaintext';
  return `${s.address} namespace=${s.namespace} ${tls}${s.apiKey ? ' api-key=***' : ''}`;
}
