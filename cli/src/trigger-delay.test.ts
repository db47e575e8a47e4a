import { describe, expect, it } from 'vitest';
import { triggerDelay } from './commands/schedule.js';

const at = (iso: string) => Date.parse(iso);

describe('triggerDelay', () => {
  it('triggers at once when no run is due near now', () => {
    const now = at('2026-12-07T03:00:05.500Z');
    expect(triggerDelay(now, [at('2026-12-07T03:00:00Z')], [at('2026-12-08T03:00:00Z')])).toBe(0);
  });

  it('waits for the second after the latest run was due, and a margin', () => {
    const now = at('2026-12-07T03:00:00.300Z');
    expect(triggerDelay(now, [at('2026-12-07T03:00:00.043Z')], [])).toBe(950);
  });

  it('never triggers in the second a scheduled run comes due, nor within the margin before it', () => {
    const due = at('2026-12-07T03:00:00Z');
    // 0.1 s before a cron run: past its second, not into it.
    expect(triggerDelay(due - 100, [], [due])).toBe(1350);
    // Inside the run's second.
    expect(triggerDelay(due + 600, [], [due])).toBe(650);
    // 0.3 s before it: outside the margin, so at once.
    expect(triggerDelay(due - 300, [], [due])).toBe(0);
  });

  it('steps past runs due back to back', () => {
    const due = at('2026-12-07T03:00:00Z');
    expect(triggerDelay(due - 100, [], [due + 1000, due])).toBe(2350);
  });
});
