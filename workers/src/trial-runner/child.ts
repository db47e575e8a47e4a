/**
 * Child process entry: runs one trial (or one pack of trials) at a time for
 * a trainer worker, so a plugin that leaks, crashes or hangs takes down only
 * what it ran. Exits when the parent goes away (IPC disconnect), so a
 * SIGKILLed worker leaves no orphans training on.
 */
import { writeSync } from 'node:fs';
import pino from 'pino';
import { TrainerRegistry } from '../registry.js';
import { executeTrials } from './execute.js';
import { type ChildMessage, type ParentMessage, RUN_STARTS_MARKER, type RunTrialJob } from './protocol.js';

const logger = pino(
  { level: process.env.GROKMAP_LOG_LEVEL ?? 'warn', base: { role: 'trial-child' } },
  // Synchronous, so a trial's log lines are in the stderr pipe before its result is sent: the
  // parent keeps each run's stderr apart (a crash reports only its own run's lines), and a line
  // logged just before a crash is not lost in a write buffer.
  pino.destination({ dest: 2, sync: true }),
);
const registry = new TrainerRegistry();
let controller: AbortController | undefined;

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function run(jobs: RunTrialJob[]): Promise<void> {
  controller = new AbortController();
  await executeTrials(
    registry,
    jobs,
    {
      onProgress: (index, report) => send({ type: 'progress', index, report }),
      onCheckpoint: (index, uri, step) => send({ type: 'checkpoint', index, step, uri }),
      onResult: (index, result) => send({ type: 'result', index, result }),
    },
    controller.signal,
    logger,
  );
  controller = undefined;
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'run') {
    // Same fd, written synchronously like the logger: ordered after every earlier trial's lines.
    writeSync(2, `${RUN_STARTS_MARKER}\n`);
    void run(message.jobs);
  } else if (message.type === 'abort') controller?.abort(message.reason);
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
