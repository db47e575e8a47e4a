import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResultsStore } from '@grokmap/workers';
import type { SweepResult } from '@grokmap/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  cliEnv,
  openTestStore,
  runCli,
  spawnCli,
  startTestServer,
  stopProcess,
  syntheticSpec,
  type TestServer,
  tempDir,
  waitFor,
  writeSpec,
} from '../support/harness.js';

/**
 * GPU workers without a GPU: a worker started with `--gpus 0,1` runs one
 * trial per listed device, and each trial's program sees only its own device
 * in CUDA_VISIBLE_DEVICES. A command trainer (a small Python program) writes
 * what it saw and when it started and stopped to an events file; the test
 * reads the schedule back from it. Also: a worker that receives SIGTERM with
 * trials in flight drains — the trials checkpoint and stop, another worker
 * resumes them, and every trial is recorded once.
 */

const PROBE = String.raw`
import json, os, signal, sys, time

doc = json.load(open(os.environ["GROKMAP_PARAMS_FILE"]))
p = doc["params"]
trial, attempt = doc["trial_id"], doc["attempt"]
cuda = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

def event(kind, **more):
    line = json.dumps({"event": kind, "trial": trial, "attempt": attempt, "cuda": cuda, "t": time.time(), **more})
    with open(os.environ["PROBE_EVENTS"], "a") as f:
        f.write(line + "\n")

def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def checkpoint(step):
    name = "ckpt-%08d.json" % step
    path = os.path.join(doc["checkpoint_dir"], name)
    with open(path + ".tmp", "w") as f:
        json.dump({"step": step}, f)
    os.replace(path + ".tmp", path)
    emit({"type": "checkpoint", "step": step, "path": name})
    event("checkpoint", step=step)

start = 0
if doc.get("resume"):
    start = json.load(open(doc["resume"]["path"]))["step"] + 1
event("start", step=start, device=doc["device"])
n = p["max_steps"]
for step in range(start, n + 1):
    if stop:
        checkpoint(step - 1)
        event("stop", step=step - 1)
        emit({"type": "result", "status": "cancelled", "reason": "SIGTERM", "max_steps": n})
        sys.exit(0)
    acc = step / n
    emit({"type": "progress", "step": step, "train_acc": acc, "val_acc": acc})
    if 0 < step < n and step % p["checkpoint_every"] == 0:
        checkpoint(step)
    time.sleep(p["step_s"])
event("end", step=n)
emit({"type": "result", "status": "completed", "max_steps": n,
      "extra": {"cuda_visible_devices": cuda, "device_index": doc["device"].get("index"), "started_at_step": start}})
`;

interface ProbeEvent {
  event: 'start' | 'end' | 'stop' | 'checkpoint';
  trial: string;
  attempt: number;
  cuda: string;
  t: number;
  step: number;
  device?: { kind: string; index?: number };
}

function readEvents(file: string): ProbeEvent[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ProbeEvent);
}

/** One attempt of a trial as the program saw it: from its start to its end (or stop). */
interface Interval {
  trial: string;
  attempt: number;
  cuda: string;
  from: number;
  to: number;
}

function intervals(events: ProbeEvent[]): Interval[] {
  const open = new Map<string, ProbeEvent>();
  const out: Interval[] = [];
  for (const e of events) {
    const key = `${e.trial}#${e.attempt}`;
    if (e.event === 'start') open.set(key, e);
    if (e.event === 'end' || e.event === 'stop') {
      const s = open.get(key)!;
      out.push({ trial: e.trial, attempt: e.attempt, cuda: s.cuda, from: s.t, to: e.t });
    }
  }
  return out;
}

describe('GPU trainer workers', () => {
  let server: TestServer;
  let store: ResultsStore;
  let control: ReturnType<typeof spawnCli>;
  let dir: string;
  let events: string;
  let config: string;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    server = await startTestServer();
    store = await openTestStore('sqlite', server.home);
    control = spawnCli(['worker', '--queue', 'control'], cliEnv(server, 'sqlite'));
    dir = tempDir('gpu-worker');
    events = path.join(dir, 'events.jsonl');
    writeFileSync(path.join(dir, 'probe.py'), PROBE);
    config = path.join(dir, 'grokmap.config.yaml');
    writeFileSync(
      config,
      stringify({
        command_trainers: [
          {
            name: 'gpu-probe',
            program: 'python3',
            args: ['probe.py'],
            env: { PROBE_EVENTS: events },
            grace_ms: 10_000,
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    if (control) await stopProcess(control);
    await store?.close();
    await server?.stop();
  });

  const probeSpec = (name: string, trials: number, fixed: Record<string, unknown>) =>
    writeSpec(dir, name, {
      ...syntheticSpec(name),
      trainer: 'gpu-probe',
      resources: { queue: 'gpu' },
      budget: { trials, parallel: trials },
      parameters: { seed: { values: Array.from({ length: trials }, (_, i) => i) } },
      fixed,
    });

  async function expectEveryTrialOnce(sweepId: string, planned: number) {
    const trials = await store.listTrials(sweepId);
    expect(trials.map((t) => t.index)).toEqual(Array.from({ length: planned }, (_, i) => i));
    expect(new Set(trials.map((t) => t.trialId)).size).toBe(planned);
    expect(trials.map((t) => t.status)).toEqual(Array.from({ length: planned }, () => 'completed'));
    return trials;
  }

  it('runs one trial per listed GPU, each pinned to its own device', async () => {
    // The CLI validates specs against the same worker config (it names the trainer).
    const env = { ...cliEnv(server, 'sqlite'), GROKMAP_WORKER_CONFIG: config };
    const worker = spawnCli(['worker', '--queue', 'gpu', '--gpus', '0,1', '--config', config], env);
    try {
      const name = `gpus-${run}`;
      const file = probeSpec(name, 6, { max_steps: 6, step_s: 0.25, checkpoint_every: 100 });
      const result = await runCli(['sweep', 'start', file, '--wait', '--json'], env);
      expect(result.code, `${result.stderr}\n${worker.output()}`).toBe(0);
      const out = JSON.parse(result.stdout) as SweepResult;
      expect(out.status).toBe('completed');
      const trials = await expectEveryTrialOnce(out.sweepId, 6);

      // Each program saw one device, the one the worker assigned it, as CUDA_VISIBLE_DEVICES.
      for (const t of trials) {
        const extra = t.outcome?.extra ?? {};
        expect(['0', '1']).toContain(extra.cuda_visible_devices);
        expect(String(extra.device_index)).toBe(extra.cuda_visible_devices);
      }
      const mine = readEvents(events).filter((e) => e.trial.startsWith(out.sweepId));
      const spans = intervals(mine);
      expect(spans).toHaveLength(6);
      expect(new Set(spans.map((s) => s.cuda))).toEqual(new Set(['0', '1']));

      // Never two overlapping trials on one device, never more than two at once.
      const sharing = spans.flatMap((a, i) =>
        spans
          .slice(i + 1)
          .filter((b) => a.cuda === b.cuda && a.from < b.to && b.from < a.to)
          .map((b) => `${a.trial} and ${b.trial} both on device ${a.cuda}`),
      );
      expect(sharing).toEqual([]);
      const edges = spans.flatMap((s) => [
        { t: s.from, d: 1 },
        { t: s.to, d: -1 },
      ]);
      // At equal times count ends before starts: a device freed and reused at once is not two trials.
      edges.sort((x, y) => x.t - y.t || x.d - y.d);
      let running = 0;
      let most = 0;
      for (const e of edges) {
        running += e.d;
        most = Math.max(most, running);
      }
      expect(most).toBe(2);
    } finally {
      await stopProcess(worker);
    }
  });

  it('drains on SIGTERM: in-flight trials checkpoint and stop, another worker resumes them', async () => {
    // The CLI validates specs against the same worker config (it names the trainer).
    const env = { ...cliEnv(server, 'sqlite'), GROKMAP_WORKER_CONFIG: config };
    const first = spawnCli(['worker', '--queue', 'gpu', '--gpus', '0,1', '--config', config], env);
    let second: ReturnType<typeof spawnCli> | undefined;
    try {
      const name = `drain-${run}`;
      // Long enough to outlast the worker's shutdown grace time, so the trials are still running when it ends.
      const file = probeSpec(name, 2, { max_steps: 400, step_s: 0.1, checkpoint_every: 20 });
      const started = await runCli(['sweep', 'start', file, '--json'], env);
      expect(started.code, started.stderr).toBe(0);
      const { sweepId } = JSON.parse(started.stdout) as { sweepId: string };
      await waitFor('both trials past a checkpoint', async () => {
        const ckpts = readEvents(events).filter(
          (e) => e.trial.startsWith(sweepId) && e.event === 'checkpoint',
        );
        return new Set(ckpts.map((e) => e.trial)).size === 2;
      });

      const exited = new Promise<number | null>((resolve) => first.once('exit', resolve));
      first.kill('SIGTERM');
      second = spawnCli(['worker', '--queue', 'gpu', '--gpus', '0,1', '--config', config], env);
      // The drained worker exits by itself once its trials have stopped.
      expect(await exited, first.output()).toBe(0);

      const result = (await server.client.workflow.getHandle(sweepId).result()) as SweepResult;
      expect(result.status).toBe('completed');
      const trials = await expectEveryTrialOnce(sweepId, 2);

      const mine = readEvents(events).filter((e) => e.trial.startsWith(sweepId));
      for (const t of trials) {
        const attempts = mine.filter((e) => e.trial === t.trialId);
        const stopped = attempts.find((e) => e.event === 'stop' && e.attempt === 1);
        const resumed = attempts.find((e) => e.event === 'start' && e.attempt === 2);
        // Attempt 1 stopped on SIGTERM at a checkpoint; attempt 2 started right after it, not from 0.
        expect(stopped, JSON.stringify(attempts)).toBeDefined();
        expect(resumed?.step).toBe(stopped!.step + 1);
        expect(t.attempts).toBe(2);
        expect(t.outcome?.extra?.started_at_step).toBe(stopped!.step + 1);
        expect(t.outcome?.steps).toBe(400);
      }
    } finally {
      await stopProcess(first);
      if (second) await stopProcess(second);
    }
  });
});
