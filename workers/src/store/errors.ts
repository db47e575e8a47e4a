import type { z } from 'zod';

/** A results-store failure with a message that says what went wrong and where. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** A row that cannot be read back into a record: names the table, the row and the problem. */
export class CorruptRowError extends StoreError {
  readonly table: string;
  readonly rowKey: string;

  constructor(table: string, rowKey: string, problem: string, options?: { cause?: unknown }) {
    super(`corrupt row in table ${table} (${rowKey}): ${problem}`, options);
    this.name = 'CorruptRowError';
    this.table = table;
    this.rowKey = rowKey;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Zod issues as one line: `path: message; path: message`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
