import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, syntheticSpec, tempDir, writeSpec } from '../support/harness.js';

/**
 * `sweep validate` and `sweep start` refuse bad specs with exit 2 and the
 * path of every problem, before anything starts or is written. The server
 * address points at a closed port, so any attempt to start a sweep would
 * fail differently.
 */
const home = tempDir('validate-home');
const dir = tempDir('validate-specs');
const env = {
  ...process.env,
  GROKMAP_HOME: home,
  GROKMAP_TEMPORAL_ADDRESS: '127.0.0.1:1',
  GROKMAP_DATABASE_URL: '',
};

function raw(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const base = syntheticSpec('validate-me');
const cases: { name: string; file: () => string; expect: RegExp[] }[] = [
  { name: 'empty file', file: () => raw('empty.yaml', ''), expect: [/spec is empty/] },
  {
    name: 'malformed YAML',
    file: () => raw('malformed.yaml', 'name: x\ntrainer: synthetic\nparameters:\n  a: { values: [1, 2\n'),
    expect: [/\(line \d+\): malformed YAML/],
  },
  {
    name: 'unknown key',
    file: () => writeSpec(dir, 'unknown', { ...base, colour: 'blue' }),
    expect: [/^colour \(line \d+\): unknown key/m],
  },
  {
    name: 'wrong type',
    file: () => writeSpec(dir, 'type', { ...base, budget: { trials: 'twelve', parallel: 4 } }),
    expect: [/^budget\.trials/m],
  },
  {
    name: 'non-positive log-uniform bounds',
    file: () =>
      writeSpec(dir, 'log', {
        ...base,
        method: 'random',
        parameters: { weight_decay: { distribution: 'log_uniform_values', min: 0, max: -2 } },
      }),
    expect: [/^parameters\.weight_decay\.min.*> 0/m, /^parameters\.weight_decay\.max.*> 0/m],
  },
  {
    name: 'min above max',
    file: () =>
      writeSpec(dir, 'minmax', {
        ...base,
        method: 'random',
        parameters: { data_fraction: { distribution: 'uniform', min: 0.8, max: 0.2 } },
      }),
    expect: [/^parameters\.data_fraction\.min.*above max/m],
  },
  {
    name: 'unknown method',
    file: () => writeSpec(dir, 'method', { ...base, method: 'hyperband' }),
    expect: [/^method/m],
  },
  {
    name: 'unknown trainer',
    file: () => writeSpec(dir, 'trainer', { ...base, trainer: 'no-such-trainer' }),
    expect: [/^trainer.*unknown trainer 'no-such-trainer'/m],
  },
  {
    name: 'unsafe name',
    file: () => writeSpec(dir, 'unsafe', { ...base, name: '../../etc/passwd' }),
    expect: [/^name/m],
  },
  {
    name: 'grid over budget',
    file: () => writeSpec(dir, 'budget', { ...base, budget: { trials: 5, parallel: 2 } }),
    expect: [/^budget\.trials.*grid has 12 points/m],
  },
  {
    name: "parameters the plugin's schema rejects",
    file: () =>
      writeSpec(dir, 'plugin', {
        ...base,
        parameters: { ...(base.parameters as object), data_fraction: { values: [0.2, 1.5] } },
      }),
    expect: [/^parameters\.data_fraction.*rejected by trainer 'synthetic'/m],
  },
];

describe('sweep validate / sweep start refuse bad specs', () => {
  it.each(cases)('$name: exit 2 with the path of each problem', async (c) => {
    const file = c.file();
    const validate = await runCli(['sweep', 'validate', file], env);
    expect(validate.code, validate.stderr).toBe(2);
    for (const pattern of c.expect) expect(validate.stderr).toMatch(pattern);
    const start = await runCli(['sweep', 'start', file], env);
    expect(start.code, start.stderr).toBe(2);
    for (const pattern of c.expect) expect(start.stderr).toMatch(pattern);
    // Nothing started, nothing stored: no database, no server, no checkpoints under the home.
    expect(readdirSync(home)).toEqual([]);
  });

  it('accepts the demo spec', async () => {
    const ok = await runCli(['sweep', 'validate', path.resolve('plugins/synthetic/demo-sweep.yaml')], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok \(sweep id synthetic-demo-[0-9a-f]{8}\)/);
    expect(existsSync(path.join(home, 'grokmap.db'))).toBe(false);
  });
});
