import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Checkpoint,
  createTestContext,
  MAX_CURVE_POINTS,
  type TrialParams,
  trialOutcomeSchema,
} from '@grokmap/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packCheckpoint } from './checkpoint-archive.js';
import {
  type CommandTrainerConfig,
  createCommandTrainer,
  MAX_LINE_BYTES,
  STDERR_TAIL_LINES,
  visibleDevicesFor,
} from './command-trainer.js';
import { createTestPack } from './test-pack.js';

// Small fake trainer programs (Node scripts), each breaking or honouring the
// protocol in one way, run through the real host.
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grokmap-cmd-fakes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PRELUDE = `
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The parameters line; stdin stays open after it for the life of the trial.
const firstLine = () => new Promise((resolve) => {
  let buf = '';
  const onData = (chunk) => {
    buf += chunk;
    const nl = buf.indexOf('\\n');
    if (nl < 0) return;
    process.stdin.off('data', onData);
    process.stdin.pause();
    resolve(buf.slice(0, nl));
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', onData);
});
`;

async function fake(name: string, body: string, config: Partial<CommandTrainerConfig> = {}) {
  const path = join(dir, `${name}.mjs`);
  await writeFile(path, PRELUDE + body);
  return createCommandTrainer({
    name: 'fake',
    program: process.execPath,
    args: [path],
    graceMs: 5_000,
    ...config,
  });
}

const progress = (step: number, acc: number) =>
  `out({ type: 'progress', step: ${step}, train_acc: ${acc}, val_acc: ${acc / 2}, train_loss: 1, val_loss: 2 });`;

describe('protocol errors', () => {
  it('ends a trial whose program prints a stray line as error, quoting the line and its number', async () => {
    const trainer = await fake(
      'stray',
      `${progress(1, 0.5)}\nconsole.log('loss is going down!');\nawait sleep(60_000);`,
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('stdout line 2 is not JSON');
    expect(outcome.reason).toContain('"loss is going down!"');
    // What came before the bad line is kept.
    expect(outcome.curves.map((c) => c.step)).toEqual([1]);
    expect(trialOutcomeSchema.safeParse(outcome).success).toBe(true);
  });

  it('rejects an unknown message type', async () => {
    const trainer = await fake('unknown', `out({ type: 'metrics', step: 3 });`);
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('stdout line 1 is not a valid message');
    expect(outcome.reason).toContain('metrics');
  });

  it('rejects NaN, which is not JSON', async () => {
    const trainer = await fake(
      'nan',
      `process.stdout.write('{"type":"progress","step":1,"train_loss":NaN}\\n');`,
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('stdout line 1 is not JSON');
  });

  it('truncates a long malformed line in the reason', async () => {
    const trainer = await fake('long', `console.log('x'.repeat(5000));`);
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('x'.repeat(200));
    expect(outcome.reason).not.toContain('x'.repeat(201));
    expect(outcome.reason!.length).toBeLessThan(400);
  });

  it('refuses a line longer than the limit without waiting for its end', async () => {
    const trainer = await fake(
      'endless',
      `const block = 'y'.repeat(1 << 20);
       for (let i = 0; i < ${Math.ceil(MAX_LINE_BYTES / (1 << 20)) + 1}; i++) process.stdout.write(block);
       await sleep(60_000);`,
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain(`stdout line 1 is longer than ${MAX_LINE_BYTES} bytes`);
  });

  it('reassembles a long line that arrives in many chunks', async () => {
    const trainer = await fake(
      'bigresult',
      `const curves = Array.from({ length: 5000 }, (_, i) => ({ step: i + 1, train_acc: 1, val_acc: i < 4000 ? 0 : 1 }));
       out({ type: 'result', status: 'completed', steps: 5000, max_steps: 5000,
         final: { train_acc: 1, val_acc: 1 }, curves });`,
    );
    const outcome = await trainer.train({}, createTestContext({ threshold: 0.99 }));
    expect(outcome.status, outcome.reason).toBe('completed');
    expect(outcome.firstStepAtThreshold).toEqual({ train: 1, val: 4001 });
    expect(outcome.curves.length).toBeLessThanOrEqual(MAX_CURVE_POINTS);
    expect(outcome.curves.at(-1)?.step).toBe(5000);
  });

  it('ends the trial, not the host, when the host fails handling a line', async () => {
    const trainer = await fake('reported', `${progress(1, 0.5)}\nawait sleep(60_000);`);
    const ctx = createTestContext();
    ctx.report = () => {
      throw new Error('heartbeat failed');
    };
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toBe('host failed while handling stdout line 1: heartbeat failed');
  });

  it('refuses result fields in camelCase: the wire format is snake_case', async () => {
    const trainer = await fake('camel', `out({ type: 'result', status: 'completed', maxSteps: 10 });`);
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('maxSteps');
  });

  it('refuses a line for another trial', async () => {
    const trainer = await fake('other', `out({ type: 'progress', trial_id: 'someone-else', step: 1 });`);
    const outcome = await trainer.train({}, createTestContext({ trialId: 'mine' }));
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('"someone-else"');
  });

  it('refuses a checkpoint outside the checkpoint dir', async () => {
    const trainer = await fake('escape', `out({ type: 'checkpoint', step: 1, path: '../params.json' });`);
    const ctx = createTestContext();
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('outside the checkpoint dir');
    expect(ctx.saved).toHaveLength(0);
  });

  it('refuses a checkpoint that does not exist', async () => {
    const trainer = await fake('missing', `out({ type: 'checkpoint', step: 1, path: 'nothing-here.bin' });`);
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('does not exist');
  });
});

describe('exits', () => {
  it('reports a non-zero exit with the code and the last lines of stderr', async () => {
    const trainer = await fake(
      'crash',
      `for (let i = 1; i <= 30; i++) process.stderr.write('trace line ' + String(i).padStart(2, '0') + '\\n');
       process.exit(3);`,
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('exited with code 3');
    expect(outcome.reason).toContain('trace line 30');
    expect(outcome.reason).toContain(`trace line ${String(30 - STDERR_TAIL_LINES + 1).padStart(2, '0')}`);
    expect(outcome.reason).not.toContain(`trace line ${String(30 - STDERR_TAIL_LINES).padStart(2, '0')}`);
  });

  it('reports a program killed by a signal', async () => {
    const trainer = await fake('suicide', `${progress(1, 0.1)}\nprocess.kill(process.pid, 'SIGKILL');`);
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('killed by SIGKILL');
  });

  it('does not hang when the program exits but something it started keeps stdout open', async () => {
    const trainer = await fake(
      'daemonizer',
      `import { spawn } from 'node:child_process';
       // A leftover helper inheriting stdout, as a data-loader worker might.
       spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: ['ignore', 'inherit', 'ignore'] }).unref();
       out({ type: 'result', status: 'completed', steps: 1, max_steps: 1, final: { train_acc: 1, val_acc: 1 } });`,
      { graceMs: 500 },
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status, outcome.reason).toBe('completed');
  });

  it('kills what the program left running in its process group when it exits', async () => {
    const pidFile = join(dir, 'leftover.pid');
    const trainer = await fake(
      'leftover',
      `import { spawn } from 'node:child_process';
       import { writeFileSync } from 'node:fs';
       const helper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
       helper.unref();
       writeFileSync(${JSON.stringify(pidFile)}, String(helper.pid));
       out({ type: 'result', status: 'completed', steps: 1, max_steps: 1, final: { train_acc: 1, val_acc: 1 } });`,
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status, outcome.reason).toBe('completed');
    const pid = Number(await readFile(pidFile, 'utf8'));
    // SIGKILL is delivered at once, but the exit may take a moment to show: poll, bounded.
    // A killed orphan may linger as a zombie until init reaps it: that counts as gone.
    const running = async () => {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    };
    let alive = await running();
    for (let i = 0; i < 50 && alive; i++) {
      await new Promise((r) => setTimeout(r, 20));
      alive = await running();
    }
    expect(alive).toBe(false);
  });

  it('reports a program that cannot be started', async () => {
    const trainer = createCommandTrainer({ name: 'absent', program: join(dir, 'no-such-program') });
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('cannot start');
  });

  it('reports a clean exit with nothing said as error', async () => {
    const trainer = await fake('silent', `process.stderr.write('nothing to do\\n');`);
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('without a result or any progress');
    expect(outcome.reason).toContain('nothing to do');
  });

  it('builds the outcome from progress lines when the program sends no result', async () => {
    const trainer = await fake(
      'noresult',
      [progress(10, 0.5), progress(20, 0.995), progress(30, 1)].join('\n'),
    );
    const ctx = createTestContext({ threshold: 0.99 });
    const outcome = await trainer.train({ max_steps: 40 }, ctx);
    expect(outcome.status).toBe('completed');
    expect(outcome.steps).toBe(30);
    expect(outcome.maxSteps).toBe(40);
    expect(outcome.firstStepAtThreshold).toEqual({ train: 20, val: null });
    expect(outcome.final).toMatchObject({ trainAcc: 1, valAcc: 0.5 });
    expect(ctx.reports.map((r) => r.step)).toEqual([10, 20, 30]);
  });

  it('merges a partial result over the recorded curve', async () => {
    const trainer = await fake(
      'partial',
      `${progress(5, 0.2)}\n${progress(9, 0.4)}
       out({ type: 'result', status: 'diverged', reason: 'loss exploded', max_steps: 100, backend: 'fake' });`,
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome).toMatchObject({ status: 'diverged', reason: 'loss exploded', steps: 9, maxSteps: 100 });
    expect(outcome.backend).toBe('fake');
    expect(outcome.curves.map((c) => c.step)).toEqual([5, 9]);
  });
});

describe('what the program is given', () => {
  it('passes parameters in the params file and on stdin, and the GROKMAP_* environment', async () => {
    const trainer = await fake(
      'echo',
      `import { readFileSync } from 'node:fs';
       const file = JSON.parse(readFileSync(process.env.GROKMAP_PARAMS_FILE, 'utf8'));
       const fromStdin = JSON.parse(await firstLine());
       out({ type: 'log', level: 'info', msg: 'hello from the program' });
       out({ type: 'result', status: 'completed', steps: 1, max_steps: 1,
         final: { train_acc: 1, val_acc: 1 },
         extra: {
           same: JSON.stringify(file) === JSON.stringify(fromStdin),
           protocol: process.env.GROKMAP_PROTOCOL, file_protocol: file.protocol,
           trial: file.trial_id, attempt: file.attempt, threshold: file.threshold, p: file.params.p,
           resume: file.resume, dir_env: process.env.GROKMAP_CHECKPOINT_DIR === file.checkpoint_dir,
           resume_env: process.env.GROKMAP_RESUME_STEP ?? null, cuda: process.env.CUDA_VISIBLE_DEVICES,
           device: file.device.kind, mine: process.env.MY_SETTING,
           stdin_open: process.env.GROKMAP_STDIN_OPEN } });
       process.exit(0);`,
      { env: { MY_SETTING: 'from-worker-config' } },
    );
    const outcome = await trainer.train(
      { p: 31 },
      createTestContext({ trialId: 't-7', attempt: 2, threshold: 0.9 }),
    );
    expect(outcome.status, outcome.reason).toBe('completed');
    expect(outcome.extra).toEqual({
      same: true,
      protocol: '1',
      file_protocol: 1,
      trial: 't-7',
      attempt: 2,
      threshold: 0.9,
      p: 31,
      resume: null,
      dir_env: true,
      resume_env: null,
      cuda: '',
      device: 'cpu',
      mine: 'from-worker-config',
      stdin_open: '1',
    });
  });

  it('keeps stdin open while the program runs, so EOF can mean the host is gone', async () => {
    const trainer = await fake(
      'stdin-open',
      `await firstLine();
       // A host that closed stdin early would make 'end' win this race at once.
       const first = await new Promise((resolve) => {
         process.stdin.once('end', () => resolve('end'));
         process.stdin.resume();
         setTimeout(() => resolve('still open'), 300);
       });
       out({ type: 'result', status: 'completed', steps: 1, max_steps: 1, final: { train_acc: 1, val_acc: 1 },
         extra: { stdin: first } });
       process.exit(0);`,
    );
    const outcome = await trainer.train({}, createTestContext());
    expect(outcome.extra).toEqual({ stdin: 'still open' });
  });

  it('pins a GPU trial to its device', async () => {
    const trainer = await fake(
      'gpu',
      `out({ type: 'result', status: 'completed', steps: 1, max_steps: 1, final: { train_acc: 0, val_acc: 0 },
         extra: { cuda: process.env.CUDA_VISIBLE_DEVICES, device: process.env.GROKMAP_DEVICE } });`,
      // The GPUs this worker may use, as an operator would restrict them.
      { env: { CUDA_VISIBLE_DEVICES: '7,8,9,10' } },
    );
    const ctx = { ...createTestContext(), device: { kind: 'gpu' as const, index: 3 } };
    const outcome = await trainer.train({}, ctx);
    expect(outcome.extra).toEqual({ cuda: '10', device: 'cuda' });
  });

  it('counts GPU indices among the devices the worker may use', () => {
    expect(visibleDevicesFor({ kind: 'gpu', index: 1 }, '4,6')).toBe('6');
    expect(visibleDevicesFor({ kind: 'gpu', index: 2 }, undefined)).toBe('2');
    expect(visibleDevicesFor({ kind: 'gpu' }, ' 3 , 5')).toBe('3');
    expect(visibleDevicesFor({ kind: 'cpu' }, '0,1')).toBe('');
  });

  it('unpacks a stored checkpoint into the new checkpoint dir and names it in resume', async () => {
    const source = join(dir, 'source-ckpt');
    await mkdir(join(source, 'state'), { recursive: true });
    await writeFile(join(source, 'state', 'weights.bin'), 'weights-at-step-40');
    const data = await packCheckpoint({
      checkpointDir: source,
      path: 'state',
      step: 40,
      curve: { points: [{ step: 40, trainAcc: 0.25, valAcc: 0.125 }], firstTrain: null, firstVal: null },
      maxBytes: 1024,
    });
    const trainer = await fake(
      'resume',
      `import { readFileSync } from 'node:fs';
       import { join } from 'node:path';
       const file = JSON.parse(readFileSync(process.env.GROKMAP_PARAMS_FILE, 'utf8'));
       out({ type: 'result', status: 'completed', max_steps: 50, extra: {
         step: file.resume.step, env_step: process.env.GROKMAP_RESUME_STEP,
         inside: file.resume.path.startsWith(file.checkpoint_dir),
         content: readFileSync(join(file.resume.path, 'weights.bin'), 'utf8') } });`,
    );
    const ctx = createTestContext({ attempt: 2, initialCheckpoint: { step: 40, data } });
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status, outcome.reason).toBe('completed');
    expect(outcome.extra).toEqual({ step: 40, env_step: '40', inside: true, content: 'weights-at-step-40' });
    // The curve recorded before the checkpoint comes back with it.
    expect(outcome.curves).toEqual([{ step: 40, trainAcc: 0.25, valAcc: 0.125 }]);
  });

  it('refuses a stored checkpoint it did not write', async () => {
    const trainer = await fake('never-run', `out({ type: 'result', status: 'completed' });`);
    const ctx = createTestContext({
      initialCheckpoint: { step: 3, data: new TextEncoder().encode('garbage') },
    });
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toContain('cannot restore checkpoint');
  });

  it('fails the trial, naming it, when its checkpoint store throws on restore', async () => {
    const trainer = await fake('never-run-store', `out({ type: 'result', status: 'completed' });`);
    const ctx = createTestContext({ trialId: 's/t' });
    ctx.checkpoint.restore = async () => {
      throw new Error('checkpoint store unreachable');
    };
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status).toBe('error');
    expect(outcome.reason).toBe(
      'restoring the checkpoint of trial "s/t" failed: checkpoint store unreachable',
    );
  });

  it('stores a checkpoint directory the program writes', async () => {
    const trainer = await fake(
      'ckpt-dir',
      `import { mkdirSync, writeFileSync } from 'node:fs';
       import { join } from 'node:path';
       const d = join(process.env.GROKMAP_CHECKPOINT_DIR, 'step-7');
       mkdirSync(join(d, 'nested'), { recursive: true });
       writeFileSync(join(d, 'nested', 'a.txt'), 'A');
       writeFileSync(join(d, 'b.txt'), 'BB');
       ${progress(7, 0.3)}
       out({ type: 'checkpoint', step: 7, path: 'step-7' });
       out({ type: 'result', status: 'completed', max_steps: 7 });`,
    );
    const ctx = createTestContext();
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status, outcome.reason).toBe('completed');
    expect(ctx.saved.map((c) => c.step)).toEqual([7]);
    const text = new TextDecoder().decode(ctx.saved[0]!.data);
    expect(text.startsWith('GROKMAP-CKPT 1\n')).toBe(true);
    expect(text.endsWith('BBA')).toBe(true);
  });
});

describe('cancellation', () => {
  it('sends SIGTERM, then SIGKILL to a program that ignores it, and reports cancelled', async () => {
    const marker = join(dir, 'got-sigterm');
    const trainer = await fake(
      'stubborn',
      `import { writeFileSync } from 'node:fs';
       process.on('SIGTERM', () => writeFileSync(${JSON.stringify(marker)}, 'yes'));
       ${progress(1, 0.1)}
       setInterval(() => {}, 1000);`,
      { graceMs: 2_000 },
    );
    const ctx = createTestContext({ onReport: (_r, c) => c.abort('sweep cancelled') });
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status).toBe('cancelled');
    expect(outcome.reason).toContain('killed by SIGKILL after ignoring SIGTERM');
    expect(existsSync(marker)).toBe(true);
    expect(outcome.curves.map((c) => c.step)).toEqual([1]);
  });

  it('lets a cooperative program checkpoint on SIGTERM before it exits', async () => {
    const trainer = await fake(
      'cooperative',
      `import { writeFileSync } from 'node:fs';
       import { join } from 'node:path';
       process.on('SIGTERM', () => {
         writeFileSync(join(process.env.GROKMAP_CHECKPOINT_DIR, 'last.bin'), 'state');
         out({ type: 'checkpoint', step: 2, path: 'last.bin' });
         process.exit(0);
       });
       ${progress(2, 0.2)}
       setInterval(() => {}, 1000);`,
    );
    const ctx = createTestContext({ onReport: (_r, c) => c.abort() });
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status).toBe('cancelled');
    expect(outcome.reason).toContain('exited with code 0');
    expect(outcome.reason).not.toContain('ignoring SIGTERM');
    expect(ctx.saved.map((c) => c.step)).toEqual([2]);
  });

  it('stops a program that runs past its time limit and reports timed_out', async () => {
    const trainer = await fake('slow', `${progress(1, 0.2)}\n${progress(2, 0.3)}\nawait sleep(60_000);`, {
      timeoutMs: 500,
    });
    const ctx = createTestContext();
    const outcome = await trainer.train({ max_steps: 1000 }, ctx);
    expect(outcome.status).toBe('timed_out');
    expect(outcome.reason).toContain('ran longer than its limit of 500 ms');
    expect(outcome.maxSteps).toBe(1000);
    // However far it got before the limit (that depends on the machine's speed) is kept.
    expect([[], [1], [1, 2]]).toContainEqual(outcome.curves.map((c) => c.step));
  });

  it('does not start the program when the trial is already cancelled', async () => {
    const marker = join(dir, 'started');
    const trainer = await fake(
      'never',
      `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, '1');`,
    );
    const ctx = createTestContext();
    ctx.abort();
    const outcome = await trainer.train({}, ctx);
    expect(outcome.status).toBe('cancelled');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('packs', () => {
  const pack = { maxTrials: 4, shapeKeys: ['p'] };
  // The pack's parameters document and its trial ids; stdin is let go so the program can end by itself.
  const PACK = `const doc = JSON.parse(await firstLine());
process.stdin.destroy();
const ids = doc.trials.map((t) => t.trial_id);
`;
  /** A one-file checkpoint as the host stores it. */
  async function storedFile(name: string, content: string, step: number): Promise<Checkpoint> {
    const checkpointDir = await mkdtemp(join(dir, 'ckpt-'));
    await writeFile(join(checkpointDir, name), content);
    const curve = { points: [], firstTrain: null, firstVal: null };
    return { step, data: await packCheckpoint({ checkpointDir, path: name, step, curve, maxBytes: 1024 }) };
  }
  const three = (params: (i: number) => TrialParams = () => ({ p: 7 })) =>
    createTestPack(['s/a', 's/b', 's/c'].map((trialId, i) => ({ trialId, params: params(i) })));

  it('runs a pack in one process with a `trials` list and routes each line to its trial', async () => {
    const trainer = await fake(
      'pack-routes',
      `${PACK}
       import { readFileSync } from 'node:fs';
       const file = JSON.parse(readFileSync(process.env.GROKMAP_PARAMS_FILE, 'utf8'));
       ids.forEach((id, i) => out({ type: 'progress', trial_id: id, step: 1, train_acc: (i + 1) / 4, val_acc: 0 }));
       out({ type: 'log', msg: 'about the whole pack' });
       out({ type: 'log', trial_id: ids[1], msg: 'about one trial' });
       ids.forEach((id, i) => out({ type: 'result', trial_id: id, status: 'completed', steps: 1,
         extra: { pid: process.pid, same: JSON.stringify(file) === JSON.stringify(doc),
           id: process.env.GROKMAP_TRIAL_ID, resume_env: process.env.GROKMAP_RESUME_STEP ?? null,
           entry: JSON.stringify(doc.trials[i]), top: JSON.stringify([doc.trial_id, doc.attempt, doc.params, doc.resume]) } }));`,
      { pack },
    );
    expect(trainer.packing).toEqual(pack);
    const { trials, contexts, pack: packCtx } = three((i) => ({ p: 7, wd: i }));
    contexts[2]!.attempt = 3;
    const outcomes = await trainer.trainPack!(trials, packCtx);
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'completed']);
    expect(outcomes.map((o) => o.final.trainAcc)).toEqual([0.25, 0.5, 0.75]);
    expect(contexts.map((c) => c.reports.map((r) => r.trainAcc))).toEqual([[0.25], [0.5], [0.75]]);
    expect(new Set(outcomes.map((o) => o.extra?.pid)).size).toBe(1);
    outcomes.forEach((o, i) => {
      expect(o.extra).toMatchObject({
        same: true,
        id: 'pack:s/a+2',
        resume_env: null,
        top: JSON.stringify(['pack:s/a+2', 3, {}, null]),
        entry: JSON.stringify({
          trial_id: contexts[i]!.trialId,
          attempt: i === 2 ? 3 : 1,
          params: { p: 7, wd: i },
          resume: null,
        }),
      });
    });
  });

  it('stores each trial’s checkpoints in its own store and restores each from its own', async () => {
    const trainer = await fake(
      'pack-restore',
      `${PACK}
       import { readFileSync } from 'node:fs';
       doc.trials.forEach((t) => out({ type: 'result', trial_id: t.trial_id, status: 'completed', steps: 5,
         extra: { step: t.resume.step, state: readFileSync(t.resume.path, 'utf8') } }));`,
      { pack },
    );
    // All three checkpoints have one name, as single-trial runs of the same program would write them.
    const stored = await Promise.all(
      ['a', 'b', 'c'].map((who) => storedFile('ckpt.bin', `state of ${who}`, 5)),
    );
    const { trials, pack: packCtx } = createTestPack(
      ['s/a', 's/b', 's/c'].map((trialId, i) => ({
        trialId,
        params: { p: 7 },
        initialCheckpoint: stored[i],
      })),
    );
    const outcomes = await trainer.trainPack!(trials, packCtx);
    expect(outcomes.map((o) => o.extra)).toEqual([
      { step: 5, state: 'state of a' },
      { step: 5, state: 'state of b' },
      { step: 5, state: 'state of c' },
    ]);

    const saving = await fake(
      'pack-save',
      `${PACK}
       import { writeFileSync } from 'node:fs';
       import { join } from 'node:path';
       ids.forEach((id, i) => {
         writeFileSync(join(doc.checkpoint_dir, 'ckpt-' + i), 'saved ' + id);
         out({ type: 'checkpoint', trial_id: id, step: 10 * (i + 1), path: 'ckpt-' + i });
       });
       ids.forEach((id) => out({ type: 'result', trial_id: id, status: 'completed' }));`,
      { pack },
    );
    const next = three();
    await saving.trainPack!(next.trials, next.pack);
    expect(next.contexts.map((c) => c.saved.map((s) => s.step))).toEqual([[10], [20], [30]]);
  });

  it('fails only the trial whose stored checkpoint cannot be unpacked; the others run', async () => {
    const trainer = await fake(
      'pack-corrupt',
      `${PACK}
       ids.forEach((id) => out({ type: 'result', trial_id: id, status: 'completed', extra: { n: ids.length } }));`,
      { pack },
    );
    // All from step 5, so all three belong in one process; b is left out of it.
    const { trials, pack: packCtx } = createTestPack([
      { trialId: 'a', params: { p: 7 }, initialCheckpoint: await storedFile('ckpt', 'a', 5) },
      {
        trialId: 'b',
        params: { p: 7 },
        initialCheckpoint: { step: 5, data: new TextEncoder().encode('junk') },
      },
      { trialId: 'c', params: { p: 7 }, initialCheckpoint: await storedFile('ckpt', 'c', 5) },
    ]);
    const [a, b, c] = await trainer.trainPack!(trials, packCtx);
    expect(b).toMatchObject({ status: 'error' });
    expect(b!.reason).toMatch(/^cannot restore checkpoint: /);
    expect([a!.status, c!.status]).toEqual(['completed', 'completed']);
    expect([a!.extra, c!.extra]).toEqual([{ n: 2 }, { n: 2 }]);
  });

  it('fails only the trial whose checkpoint store throws on restore, naming it; the others run', async () => {
    const trainer = await fake(
      'pack-restore-throws',
      `${PACK}
       ids.forEach((id) => out({ type: 'result', trial_id: id, status: 'completed', extra: { ids: ids.join() } }));`,
      { pack },
    );
    const { trials, contexts, pack: packCtx } = three();
    // A third-party store that cannot be reached, say.
    contexts[1]!.checkpoint.restore = async () => {
      throw new Error('checkpoint store unreachable');
    };
    const [a, b, c] = await trainer.trainPack!(trials, packCtx);
    expect(b).toMatchObject({ status: 'error' });
    expect(b!.reason).toBe('restoring the checkpoint of trial "s/b" failed: checkpoint store unreachable');
    expect([a!.status, c!.status]).toEqual(['completed', 'completed']);
    // The others ran together, without it.
    expect([a!.extra, c!.extra]).toEqual([{ ids: 's/a,s/c' }, { ids: 's/a,s/c' }]);
  });

  it('refuses a line for a trial that is not in the pack, quoting it', async () => {
    const trainer = await fake(
      'pack-stranger',
      `${PACK}
       out({ type: 'progress', trial_id: ids[0], step: 1, train_acc: 0.5, val_acc: 0.5 });
       out({ type: 'progress', trial_id: 'someone-else', step: 1 });
       await sleep(60_000);`,
      { pack },
    );
    const { trials, pack: packCtx } = three();
    const outcomes = await trainer.trainPack!(trials, packCtx);
    for (const o of outcomes) {
      expect(o.status).toBe('error');
      expect(o.reason).toBe(
        'protocol error: stdout line 2 is for trial "someone-else", which is not in this pack: ' +
          JSON.stringify('{"type":"progress","trial_id":"someone-else","step":1}'),
      );
    }
    // What came before the bad line is kept.
    expect(outcomes.map((o) => o.curves.length)).toEqual([1, 0, 0]);
  });

  it('refuses a trial’s line without a trial_id in a pack', async () => {
    const trainer = await fake('pack-anonymous', `${PACK}\n${progress(1, 0.5)}\nawait sleep(60_000);`, {
      pack,
    });
    const { trials, pack: packCtx } = three();
    const outcomes = await trainer.trainPack!(trials, packCtx);
    expect(outcomes[0]!.status).toBe('error');
    expect(outcomes[0]!.reason).toMatch(
      /^protocol error: stdout line 1 has no trial_id; in a pack every progress line names its trial: "\{/,
    );
  });

  it('keeps the results of finished trials when the pack later crashes', async () => {
    const trainer = await fake(
      'pack-crash',
      `${PACK}
       out({ type: 'result', trial_id: ids[1], status: 'diverged', reason: 'loss became NaN' });
       console.error('CUDA out of memory');
       process.exit(3);`,
      { pack },
    );
    const { trials, pack: packCtx } = three();
    const [a, b, c] = await trainer.trainPack!(trials, packCtx);
    expect(b).toMatchObject({ status: 'diverged', reason: 'loss became NaN' });
    for (const o of [a!, c!]) {
      expect(o.status).toBe('error');
      expect(o.reason).toContain('program exited with code 3');
      expect(o.reason).toContain('CUDA out of memory');
    }
  });

  it('names a trial the program left without a result', async () => {
    const trainer = await fake(
      'pack-forgot',
      `${PACK}
       out({ type: 'progress', trial_id: ids[2], step: 1, train_acc: 1, val_acc: 1 });
       ids.slice(0, 2).forEach((id) => out({ type: 'result', trial_id: id, status: 'completed' }));`,
      { pack },
    );
    const { trials, pack: packCtx } = three();
    const outcomes = await trainer.trainPack!(trials, packCtx);
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'error']);
    expect(outcomes[2]!.reason).toMatch(/^program exited with code 0 without a result line for trial "s\/c"/);
  });

  it('stops the whole pack on cancellation; each trial checkpoints and reports cancelled', async () => {
    const trainer = await fake(
      'pack-cancel',
      `${PACK}
       import { writeFileSync } from 'node:fs';
       import { join } from 'node:path';
       process.on('SIGTERM', () => {
         ids.forEach((id, i) => {
           writeFileSync(join(doc.checkpoint_dir, 'last-' + i), 'state');
           out({ type: 'checkpoint', trial_id: id, step: 4, path: 'last-' + i });
           out({ type: 'result', trial_id: id, status: 'cancelled', steps: 4, reason: 'stopped at step 4 (SIGTERM)' });
         });
         process.exit(0);
       });
       out({ type: 'progress', trial_id: ids[0], step: 4, train_acc: 0.5, val_acc: 0.5 });
       setInterval(() => {}, 1000);`,
      { pack },
    );
    const packed = three();
    packed.contexts[0]!.report = () => packed.abort('worker shutting down');
    const outcomes = await trainer.trainPack!(packed.trials, packed.pack);
    expect(outcomes.map((o) => o.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(packed.contexts.map((c) => c.saved.map((s) => s.step))).toEqual([[4], [4], [4]]);
  });

  it('runs trials of other shapes, beyond max_trials or resuming from other steps in separate processes', async () => {
    const log = join(dir, 'pack-split.log');
    const trainer = await fake(
      'pack-split',
      `${PACK}
       import { appendFileSync } from 'node:fs';
       appendFileSync(${JSON.stringify(log)}, JSON.stringify(doc.trials.map((t) => [t.trial_id, t.resume?.step ?? null])) + '\\n');
       ids.forEach((id) => out({ type: 'result', trial_id: id, status: 'completed', extra: { pid: process.pid } }));`,
      { pack: { maxTrials: 2, shapeKeys: ['p'] } },
    );
    const at5 = await storedFile('c', 'x', 5);
    const { trials, pack: packCtx } = createTestPack([
      { trialId: 'a', params: { p: 7 }, initialCheckpoint: at5 },
      { trialId: 'b', params: { p: 7 } },
      { trialId: 'c', params: { p: 7 }, initialCheckpoint: at5 },
      { trialId: 'd', params: { p: 9 } },
      { trialId: 'e', params: { p: 7 } },
      { trialId: 'f', params: { p: 7 } },
    ]);
    const outcomes = await trainer.trainPack!(trials, packCtx);
    expect(outcomes.map((o) => o.status)).toEqual(Array(6).fill('completed'));
    const runs = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(runs).toEqual([
      [
        ['a', 5],
        ['c', 5],
      ],
      [
        ['b', null],
        ['e', null],
      ],
      [['d', null]],
      [['f', null]],
    ]);
  });
});
