import { readFileSync } from 'node:fs';
import type { TemporalConnectionSettings } from '@grokmap/infra';
import { TrainerRegistry } from '@grokmap/workers/registry';
import { type SpecCheck, validateSpecText } from '@grokmap/workflows';
import type { Client } from '@temporalio/client';
import pino, { type Logger } from 'pino';
import { parse as parseYaml } from 'yaml';

/** Logs go to stderr (pretty on a TTY, JSON otherwise or with --json); command output goes to stdout. */
export function createLogger(json: boolean): Logger {
  const level = process.env.GROKMAP_LOG_LEVEL ?? 'info';
  if (!json && process.stderr.isTTY) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname' } },
    });
  }
  return pino({ level }, pino.destination(2));
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * Parser for an integer option such as `--limit <n>`: a value that is not a
 * whole number ≥ 1 is refused with the flag named (exit 2), instead of
 * running on NaN.
 */
export function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isInteger(n) || n < 1) {
      throw new CliError(`${flag}: expected a whole number of at least 1, got '${value}'`, 2);
    }
    return n;
  };
}

/** Read a spec file and validate it, plugin schema included. Never starts or writes anything. */
export async function checkSpecFile(file: string, registry = new TrainerRegistry()): Promise<SpecCheck> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      ok: false,
      problems: [
        {
          path: '',
          message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        },
      ],
    };
  }
  // The trainer's schema is needed for validation; find which trainer the spec names first.
  let trainerName: unknown;
  try {
    trainerName = (parseYaml(text) as { trainer?: unknown } | null)?.trainer;
  } catch {
    trainerName = undefined;
  }
  const trainer =
    typeof trainerName === 'string' ? await registry.get(trainerName).catch(() => undefined) : undefined;
  return validateSpecText(text, (name) => (name === trainerName ? trainer : undefined));
}

export interface Connected {
  client: Client;
  settings: TemporalConnectionSettings;
  uiUrl?: string;
  close(): Promise<void>;
}

/** A client for the configured server, starting the embedded dev server if none is configured. */
export async function connectClient(logger: Logger): Promise<Connected> {
  // Loaded here, not at the top: commands that never talk to a server (validate) start faster.
  const { connectionFromEnv, connectOptions, ensureTemporal, grokmapHome } = await import('@grokmap/infra');
  const { Client, Connection } = await import('@temporalio/client');
  const { settings, server } = await ensureTemporal({
    home: grokmapHome(),
    logger,
    ...(connectionFromEnv() ? { external: connectionFromEnv()! } : {}),
  });
  const connection = await Connection.connect(connectOptions(settings));
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    settings,
    ...(server?.uiUrl ? { uiUrl: server.uiUrl } : {}),
    close: () => connection.close(),
  };
}
