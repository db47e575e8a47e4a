import { Context } from '@temporalio/activity';

/**
 * How often a wrapped activity heartbeats. Well inside the control proxies'
 * 30 s heartbeat timeout (workflows/src/control-proxies.ts), so a few missed
 * ticks on a loaded event loop do not time a live attempt out. The worker
 * throttles what it sends to the server, so ticking often costs nothing.
 */
export const HEARTBEAT_INTERVAL_MS = 5_000;

/** The running activity's context, or undefined outside one (unit tests call activities directly). */
function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    // `Context.current()` throws when no activity runs in this async context.
    return undefined;
  }
}

/**
 * Runs `fn` while heartbeating its activity every `intervalMs`, so that Temporal notices within the
 * heartbeat timeout when the worker running it dies, instead of waiting out start-to-close. The
 * timer is cleared when `fn` settles, returned or thrown. Outside an activity it just calls `fn`.
 * Heartbeats come from a timer, so they stop while the event loop is blocked: a synchronous
 * section must stay well under the heartbeat timeout.
 */
export async function heartbeating<T>(fn: () => Promise<T>, intervalMs = HEARTBEAT_INTERVAL_MS): Promise<T> {
  const context = currentContext();
  if (!context) return fn();
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), intervalMs);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: activity functions take any serialisable arguments.
type AsyncFunctions = Record<string, (...args: any[]) => Promise<unknown>>;

/** The same activities, each heartbeating while it runs (see {@link heartbeating}). */
export function withHeartbeats<A extends { [K in keyof A]: AsyncFunctions[string] }>(
  activities: A,
  intervalMs = HEARTBEAT_INTERVAL_MS,
): A {
  const wrapped: AsyncFunctions = {};
  for (const [name, fn] of Object.entries(activities as AsyncFunctions)) {
    wrapped[name] = (...args: unknown[]) => heartbeating(() => fn(...args), intervalMs);
  }
  return wrapped as unknown as A;
}
