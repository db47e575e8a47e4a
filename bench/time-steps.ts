/**
 * Run a proposal's steps (a sampler generator) to the end, timing the whole
 * and its longest step: how long the event loop stays blocked, against the
 * control activity's 30 s heartbeat timeout.
 */
export function timeSteps(steps: Generator<void, unknown, void>): { totalS: number; longestS: number } {
  const start = performance.now();
  let last = start;
  let longest = 0;
  for (let done = false; !done; ) {
    done = steps.next().done === true;
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }
  return { totalS: (last - start) / 1000, longestS: longest / 1000 };
}
