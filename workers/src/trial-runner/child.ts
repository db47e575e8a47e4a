/**
 * Child process entry: runs one trial at a time for a trainer worker, so a
 * plugin that leaks, crashes or hangs takes down only its trial. Exits when
 * the parent goes away (IPC disconnect), so a SIGKILLed worker leaves no
 * orphans training on.
 */
import pino from 'pino';
import { TrainerRegistry } from '../registry.js';
import { executeTrial } from './execute.js';
import type { ChildMessage, ParentMessage, RunTrialJob } from './protocol.js';

const logger = pino(
  { level: process.env.GROKMAP_LOG_LEVEL ?? 'warn', base: { role: 'trial-child' } },
  pino.destination(2),
);
const registry = new TrainerRegistry();
let controller: AbortController | undefined;

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function run(job: RunTrialJob): Promise<void> {
  controller = new AbortController();
  const result = await executeTrial(
    registry,
    job,
    {
      onProgress: (report) => send({ type: 'progress', report }),
      onCheckpoint: (uri, step) => send({ type: 'checkpoint', step, uri }),
    },
    controller.signal,
    logger,
  );
  controller = undefined;
  if (result.kind === 'outcome') send({ type: 'result', outcome: result.outcome });
  else if (result.kind === 'invalid-params') send({ type: 'invalid-params', message: result.message });
  else send({ type: 'failed', message: result.message });
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'run') void run(message.job);
  else if (message.type === 'abort') controller?.abort(message.reason);
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
