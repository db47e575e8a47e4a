import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandTrainer } from './command-trainer.js';
import { CommandConfigError, commandTrainerConfigs, loadCommandTrainers } from './config.js';
import { jsonSchemaLiteSchema, jsonSchemaLiteToZod } from './json-schema-lite.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grokmap-cmd-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The message of the CommandConfigError a config is refused with. */
function configError(input: unknown, source: string): string {
  try {
    commandTrainerConfigs(input, '/', source);
  } catch (err) {
    expect(err).toBeInstanceOf(CommandConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

describe('commandTrainerConfigs', () => {
  it('resolves cwd from the config folder and path-like programs from cwd, leaving bare names to PATH', () => {
    const [a, b] = commandTrainerConfigs(
      {
        trainers: [
          {
            name: 'a',
            program: './bin/train',
            cwd: 'runs',
            args: ['x.py'],
            env: { K: 'v' },
            grace_ms: 50,
            timeout_ms: 3_600_000,
          },
          { name: 'b', program: 'python3' },
        ],
      },
      '/etc/grokmap',
    );
    expect(a).toMatchObject({
      program: '/etc/grokmap/runs/bin/train',
      cwd: '/etc/grokmap/runs',
      args: ['x.py'],
      env: { K: 'v' },
      graceMs: 50,
      timeoutMs: 3_600_000,
    });
    expect(b).toMatchObject({ program: 'python3', cwd: '/etc/grokmap', args: [], env: {} });
  });

  it('lists every problem by path', () => {
    const bad = {
      trainers: [
        { name: 'Bad Name', program: '' },
        { name: 'ok', program: 'p', args: 'not-a-list' },
        { name: 'ok2', program: 'p', shell: true },
      ],
    };
    const message = configError(bad, 'test.yaml');
    expect(message).toContain('test.yaml');
    expect(message).toContain('trainers.0.name');
    expect(message).toContain('trainers.0.program');
    expect(message).toContain('trainers.1.args');
    expect(message).toContain('shell');
  });

  it('refuses two trainers with one name', () => {
    const twice = {
      trainers: [
        { name: 'same', program: 'a' },
        { name: 'same', program: 'b' },
      ],
    };
    expect(() => commandTrainerConfigs(twice, '/')).toThrow(/trainers\.1\.name: duplicate trainer "same"/);
  });

  it('turns `pack` into the trainer’s packing support', () => {
    const [config] = commandTrainerConfigs(
      {
        trainers: [
          { name: 'packer', program: 'p', pack: { max_trials: 8, shape_keys: ['p', 'model_size'] } },
        ],
      },
      '/',
    );
    expect(config!.pack).toEqual({ maxTrials: 8, shapeKeys: ['p', 'model_size'] });
    const trainer = createCommandTrainer(config!);
    expect(trainer.packing).toEqual({ maxTrials: 8, shapeKeys: ['p', 'model_size'] });
    expect(typeof trainer.trainPack).toBe('function');

    const [plain] = commandTrainerConfigs({ trainers: [{ name: 'plain', program: 'p' }] }, '/');
    expect(createCommandTrainer(plain!).trainPack).toBeUndefined();
  });

  it('names the path of every problem in `pack`', () => {
    const bad = {
      trainers: [
        { name: 'a', program: 'p', pack: { max_trials: 0, shape_keys: ['p'] } },
        { name: 'b', program: 'p', pack: { max_trials: 2.5, shape_keys: 'p' } },
        { name: 'c', program: 'p', pack: { max_trials: 4, shape_keys: ['p'], vectorised: true } },
        {
          name: 'd',
          program: 'p',
          pack: { max_trials: 4, shape_keys: ['p', 'modelsize', 'p'] },
          params_schema: {
            type: 'object',
            properties: { p: { type: 'integer' }, model_size: { type: 'integer' } },
          },
        },
        { name: 'e', program: 'p', pack: { shape_keys: [] } },
      ],
    };
    const message = configError(bad, 'packs.yaml');
    expect(message).toContain('packs.yaml');
    expect(message).toMatch(/trainers\.0\.pack\.max_trials: .*>0/);
    expect(message).toMatch(/trainers\.1\.pack\.max_trials: .*int/);
    expect(message).toMatch(/trainers\.1\.pack\.shape_keys: .*array/);
    expect(message).toMatch(/trainers\.2\.pack: .*vectorised/);
    expect(message).toContain(
      'trainers.3.pack.shape_keys.1: shape key "modelsize" is not a parameter in params_schema',
    );
    expect(message).toContain('trainers.3.pack.shape_keys.2: shape key "p" is listed twice');
    expect(message).toMatch(/trainers\.4\.pack\.max_trials: /);
  });
});

describe('loadCommandTrainers', () => {
  it('reads JSON and YAML files into trainers with their parameter schemas', async () => {
    const json = join(dir, 'w.json');
    await writeFile(
      json,
      JSON.stringify({
        trainers: [
          {
            name: 'jax-grok',
            program: '/opt/venv/bin/python',
            args: ['train.py'],
            version: '2.1.0',
            params_schema: {
              type: 'object',
              properties: { p: { type: 'integer' } },
              additionalProperties: false,
            },
          },
        ],
      }),
    );
    const [fromJson] = await loadCommandTrainers(json);
    expect(fromJson).toMatchObject({ name: 'jax-grok', version: '2.1.0' });
    expect(fromJson!.params.safeParse({ p: 3 }).success).toBe(true);
    expect(fromJson!.params.safeParse({ p: 3, q: 1 }).success).toBe(false);

    const yaml = join(dir, 'w.yaml');
    await writeFile(yaml, 'trainers:\n  - name: free\n    program: ./t\n');
    const [fromYaml] = await loadCommandTrainers(yaml);
    // Without a params_schema any object is passed through.
    expect(fromYaml!.params.parse({ anything: [1, 2] })).toEqual({ anything: [1, 2] });
    expect(fromYaml!.params.safeParse('p=3').success).toBe(false);
  });

  it('says which file could not be parsed', async () => {
    const path = join(dir, 'broken.yaml');
    await writeFile(path, 'trainers: [\n');
    await expect(loadCommandTrainers(path)).rejects.toThrow(
      /cannot parse command trainer config .*broken\.yaml/,
    );
  });
});

describe('JSON-schema-lite', () => {
  const schema = jsonSchemaLiteToZod(
    jsonSchemaLiteSchema.parse({
      type: 'object',
      required: ['p'],
      properties: {
        p: { type: 'integer', minimum: 2, maximum: 200 },
        wd: { type: 'number', exclusiveMinimum: 0, default: 1 },
        act: { type: 'string', enum: ['relu', 'quadratic'] },
        width: { type: 'integer', enum: [64, 128] },
        packed: { type: 'boolean' },
        seeds: { type: 'array', items: { type: 'integer', minimum: 0 }, maxItems: 3 },
      },
    }),
  );

  it('applies defaults and accepts valid values', () => {
    expect(schema.parse({ p: 97, act: 'relu', width: 64, packed: true, seeds: [0, 1] })).toEqual({
      p: 97,
      wd: 1,
      act: 'relu',
      width: 64,
      packed: true,
      seeds: [0, 1],
    });
  });

  it.each([
    [{}, 'p'],
    [{ p: 1 }, 'p'],
    [{ p: 2.5 }, 'p'],
    [{ p: 3, wd: 0 }, 'wd'],
    [{ p: 3, act: 'gelu' }, 'act'],
    [{ p: 3, width: 100 }, 'width'],
    [{ p: 3, seeds: [0, 1, 2, 3] }, 'seeds'],
    [{ p: 3, packed: 'yes' }, 'packed'],
  ])('refuses %j at %s', (value, path) => {
    const r = schema.safeParse(value);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path[0])).toContain(path);
  });

  it('refuses schemas outside the subset', () => {
    expect(
      jsonSchemaLiteSchema.safeParse({ type: 'object', properties: { x: { type: 'null' } } }).success,
    ).toBe(false);
    expect(jsonSchemaLiteSchema.safeParse({ type: 'object', properties: {}, required: ['x'] }).success).toBe(
      false,
    );
    expect(
      jsonSchemaLiteSchema.safeParse({ type: 'object', properties: { x: { type: 'number', $ref: '#' } } })
        .success,
    ).toBe(false);
  });
});
