import type { z } from 'zod';
import { CorruptRowError, errorMessage, formatIssues } from './errors.js';
import type { SqlRow } from './sql-driver.js';

/**
 * Reads one database row column by column, accepting what either driver
 * returns (SQLite: JSON as text, booleans as 0/1, instants as text;
 * PostgreSQL: parsed JSON, booleans, Date objects). Anything else raises a
 * CorruptRowError naming the table, the row and the column.
 */
export class RowReader {
  constructor(
    private readonly table: string,
    private readonly rowKey: string,
    private readonly row: SqlRow,
  ) {}

  private corrupt(column: string, problem: string, cause?: unknown): CorruptRowError {
    return new CorruptRowError(this.table, this.rowKey, `column ${column}: ${problem}`, { cause });
  }

  private present(column: string): unknown {
    const value = this.row[column];
    if (value === null || value === undefined) throw this.corrupt(column, 'is missing');
    return value;
  }

  text(column: string): string {
    const value = this.present(column);
    if (typeof value !== 'string') throw this.corrupt(column, `expected text, found ${describe(value)}`);
    return value;
  }

  optionalText(column: string): string | undefined {
    return this.row[column] == null ? undefined : this.text(column);
  }

  /** A column constrained to a set of values (a status, a phase label). */
  oneOf<T extends string>(column: string, allowed: readonly T[]): T {
    const value = this.text(column);
    if (!(allowed as readonly string[]).includes(value)) {
      throw this.corrupt(
        column,
        `unexpected value ${JSON.stringify(value)} (expected one of ${allowed.join(', ')})`,
      );
    }
    return value as T;
  }

  number(column: string): number {
    const value = this.present(column);
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || Number.isNaN(n)) {
      throw this.corrupt(column, `expected a number, found ${describe(value)}`);
    }
    return n;
  }

  integer(column: string): number {
    const n = this.number(column);
    if (!Number.isInteger(n)) throw this.corrupt(column, `expected an integer, found ${n}`);
    return n;
  }

  nullableNumber(column: string): number | null {
    return this.row[column] == null ? null : this.number(column);
  }

  nullableInteger(column: string): number | null {
    return this.row[column] == null ? null : this.integer(column);
  }

  optionalNumber(column: string): number | undefined {
    return this.row[column] == null ? undefined : this.number(column);
  }

  optionalBoolean(column: string): boolean | undefined {
    const value = this.row[column];
    if (value == null) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 0 || value === 1) return value === 1;
    throw this.corrupt(column, `expected a boolean, found ${describe(value)}`);
  }

  /** An instant, returned as an ISO-8601 string. */
  timestamp(column: string): string {
    const value = this.present(column);
    const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) {
      throw this.corrupt(column, `expected an ISO-8601 timestamp, found ${describe(value)}`);
    }
    return date.toISOString();
  }

  optionalTimestamp(column: string): string | undefined {
    return this.row[column] == null ? undefined : this.timestamp(column);
  }

  /** A JSON document checked against `schema`. */
  json<S extends z.ZodType>(column: string, schema: S): z.output<S> {
    let value = this.present(column);
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch (err) {
        throw this.corrupt(column, `invalid JSON (${errorMessage(err)})`, err);
      }
    }
    return this.conforms(schema, value, `column ${column}: unexpected JSON content`);
  }

  /** Check a value read from this row (or assembled from its columns) against `schema`. */
  conforms<S extends z.ZodType>(schema: S, value: unknown, what = 'unexpected content'): z.output<S> {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new CorruptRowError(this.table, this.rowKey, `${what}: ${formatIssues(parsed.error)}`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  optionalJson<S extends z.ZodType>(column: string, schema: S): z.output<S> | undefined {
    return this.row[column] == null ? undefined : this.json(column, schema);
  }
}

function describe(value: unknown): string {
  if (value instanceof Date) return 'an invalid date';
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
  return `${typeof value} ${shown}`;
}
