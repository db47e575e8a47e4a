import { FAILURE_HOOKS, syntheticParamsSchema } from '@grokmap/plugin-synthetic';
import { HARD_TRIAL_CAP, type SpecCheck, type TrainerLookup, validateSpecText } from '@grokmap/workflows';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

/**
 * Generated specs through the validator: valid ones are accepted, mutated
 * ones (wrong types, unknown keys, missing keys, random YAML) are refused
 * without a crash or a hang, and every problem names where it is.
 */

const lookup: TrainerLookup = (name) =>
  name === 'synthetic' ? { params: syntheticParamsSchema } : undefined;

let generated = 0;
let failures = 0;
/** Messages about the whole file, which have no path; and a key that is itself empty (`"": 1`) sits at path ''. */
const WHOLE_SPEC = /spec is empty|malformed YAML|spec must be a mapping|^unknown keys? ''/;

/** Validate, count, and check the shape every answer must have. */
function validate(text: string): SpecCheck {
  generated++;
  let check: SpecCheck;
  try {
    check = validateSpecText(text, lookup);
  } catch (err) {
    failures++;
    throw err;
  }
  if (!check.ok) {
    const ok =
      check.problems.length > 0 &&
      check.problems.every(
        (p) =>
          typeof p.message === 'string' &&
          p.message.length > 0 &&
          typeof p.path === 'string' &&
          (p.path !== '' || WHOLE_SPEC.test(p.message)),
      );
    if (!ok) {
      failures++;
      throw new Error(`a problem without a path: ${JSON.stringify(check.problems)}`);
    }
  }
  return check;
}

afterAll(() => {
  console.log(`${generated} specs generated, ${failures} failures`);
});

// ---- generators ----

const safeName = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,30}$/);
const dataFraction = fc.double({ min: 0.05, max: 0.95, noNaN: true });
const weightDecay = fc.double({ min: 0, max: 10, noNaN: true });

/** A valid synthetic sweep spec object (grid or random), small enough to validate quickly. */
const validSpec = fc
  .record({
    name: safeName,
    method: fc.constantFrom('grid', 'random'),
    wd: fc.uniqueArray(weightDecay, { minLength: 1, maxLength: 4 }),
    df: fc.uniqueArray(dataFraction, { minLength: 1, maxLength: 3 }),
    seeds: fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 3 }),
    parallel: fc.integer({ min: 1, max: 16 }),
    extraTrials: fc.integer({ min: 0, max: 5 }),
    maxSteps: fc.integer({ min: 100, max: 50_000 }),
    threshold: fc.double({ min: 0.5, max: 1, noNaN: true }),
  })
  .map((g) => {
    const size = g.wd.length * g.df.length * g.seeds.length;
    return {
      name: g.name,
      trainer: 'synthetic',
      method: g.method,
      budget: { trials: size + g.extraTrials, parallel: g.parallel },
      parameters: {
        weight_decay: { values: g.wd },
        data_fraction:
          g.method === 'grid'
            ? { values: g.df }
            : { distribution: 'uniform', min: Math.min(...g.df), max: Math.max(...g.df) },
        seed: { values: g.seeds },
      },
      fixed: { max_steps: g.maxSteps, model_size: 64 },
      phase: { threshold: g.threshold, delay_steps: 100 },
    } as Record<string, unknown>;
  });

/** Every key path of a nested object (objects and arrays). */
function keyPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...keyPaths(v, [...prefix, k])]);
}

type Mutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'unknown-key'; at: number; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: fc.jsonValue() }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('unknown-key' as const),
    at: fc.nat(),
    key: fc.string({ minLength: 1, maxLength: 12 }),
    value: fc.jsonValue(),
  }),
);

function mutate(spec: Record<string, unknown>, m: Mutation): Record<string, unknown> {
  const copy = structuredClone(spec);
  const paths = [[], ...keyPaths(copy)];
  const target = paths[m.at % paths.length]!;
  if (m.kind === 'unknown-key') {
    let node: unknown = copy;
    for (const k of target) node = (node as Record<string | number, unknown>)[k];
    if (node && typeof node === 'object' && !Array.isArray(node))
      (node as Record<string, unknown>)[`x_${m.key}`] = m.value;
    return copy;
  }
  if (target.length === 0) return copy;
  let parent: unknown = copy;
  for (const k of target.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[k];
  const last = target[target.length - 1]!;
  const p = parent as Record<string | number, unknown>;
  if (m.kind === 'delete') {
    if (Array.isArray(p)) p.splice(Number(last), 1);
    else delete p[last];
  } else p[last] = m.value;
  return copy;
}

const asText = fc.constantFrom<(v: unknown) => string>(
  (v) => stringify(v),
  (v) => JSON.stringify(v),
);

// ---- properties ----

describe('spec validation (property-based)', () => {
  it('accepts every generated valid spec, as YAML and as JSON', () => {
    fc.assert(
      fc.property(validSpec, asText, (spec, write) => {
        const check = validate(write(spec));
        if (!check.ok) throw new Error(`refused a valid spec: ${JSON.stringify(check.problems)}`);
      }),
      { numRuns: 400 },
    );
  });

  it('mutated specs (wrong types, deletions, unknown keys) never crash and name a path', () => {
    fc.assert(
      fc.property(
        validSpec,
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        asText,
        (spec, ms, write) => {
          const mutated = ms.reduce(mutate, spec);
          const check = validate(write(mutated));
          // An added unknown key is always refused at its own path.
          for (const m of ms.filter((x) => x.kind === 'unknown-key')) {
            const found = JSON.stringify(mutated).includes(`"x_${m.key}"`);
            if (found && check.ok) throw new Error('an unknown key was accepted');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random text and random YAML values never crash', () => {
    const yamlish = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc
        .array(
          fc.constantFrom(
            'name: ',
            'a',
            ':',
            '\n',
            '  ',
            '- ',
            '{',
            '}',
            '[',
            ']',
            '&x',
            '*x',
            '!!',
            '#',
            '"',
            "'",
            '|',
            '>',
            '? ',
            ',',
            'trainer: synthetic',
            'method: grid',
            '~',
            'null',
            '0x1F',
            '.inf',
            '<<: *x',
          ),
          { maxLength: 40 },
        )
        .map((parts) => parts.join('')),
      fc.jsonValue().map((v) => stringify(v)),
      fc.anything().map((v) => {
        try {
          // stringify(undefined) is undefined: the validator takes text, so send text.
          return String(stringify(v) ?? v);
        } catch {
          return String(v);
        }
      }),
    );
    fc.assert(
      fc.property(yamlish, (text) => {
        validate(text);
      }),
      { numRuns: 2000 },
    );
  });

  // Aliases without anchors and alias bombs ("billion laughs") are refused as malformed YAML.
  const ALIAS_BOMB = `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n`;
  for (const [what, text] of [
    ['an alias without its anchor', 'name: *x\n'],
    ['an alias bomb', ALIAS_BOMB],
  ] as const) {
    it(`refuses ${what} with a whole-spec problem instead of throwing`, () => {
      const check = validateSpecText(text, lookup);
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.problems[0]?.message).toMatch(/YAML|alias/);
    });
  }

  it('refuses grids above the hard cap before expanding them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 7, max: 40 }), fc.integer({ min: 8, max: 30 }), (params, width) => {
        const parameters: Record<string, unknown> = {};
        for (let i = 0; i < params; i++)
          parameters[`p${i}`] = { values: Array.from({ length: width }, (_, j) => j) };
        const size = width ** params;
        fc.pre(size > HARD_TRIAL_CAP);
        const check = validate(
          stringify({
            name: 'huge',
            trainer: 'synthetic',
            method: 'grid',
            budget: { trials: HARD_TRIAL_CAP },
            parameters,
          }),
        );
        expect(check.ok).toBe(false);
        if (!check.ok) expect(check.problems.map((p) => p.path)).toContain('parameters');
      }),
      { numRuns: 100 },
    );
    // Random sweeps above the cap are refused at their budget.
    fc.assert(
      fc.property(fc.integer({ min: HARD_TRIAL_CAP + 1, max: Number.MAX_SAFE_INTEGER }), (trials) => {
        const check = validate(
          stringify({
            name: 'huge-random',
            trainer: 'synthetic',
            method: 'random',
            budget: { trials },
            parameters: { weight_decay: { min: 0, max: 1 } },
          }),
        );
        expect(check.ok).toBe(false);
        if (!check.ok) expect(check.problems.map((p) => p.path)).toContain('budget.trials');
      }),
      { numRuns: 100 },
    );
  });

  const escaping = fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]{0,6}$/),
      fc.constantFrom(
        '../',
        '..',
        '/',
        '\\',
        '\0',
        '..\\',
        '/etc/passwd',
        'C:\\',
        '\n',
        ' ',
        '%2e%2e%2f',
        '~/',
        ':',
        '*',
        '\u2215',
        '\uff0e\uff0e',
      ),
      fc.stringMatching(/^[a-z0-9]{0,6}$/),
    )
    .map(([a, bad, b]) => `${a}${bad}${b}`);

  it('refuses names that could escape an output folder: sweep name, queue, parameter names', () => {
    const base = {
      trainer: 'synthetic',
      method: 'grid',
      budget: { trials: 2 },
      parameters: { seed: { values: [0, 1] } },
    };
    fc.assert(
      fc.property(escaping, (bad) => {
        for (const [spec, where] of [
          [{ ...base, name: bad }, 'name'],
          [{ ...base, name: 'ok', resources: { queue: bad } }, 'resources.queue'],
          [{ ...base, name: 'ok', parameters: { [bad]: { values: [0, 1] } } }, 'parameters'],
          [{ ...base, name: 'ok', fixed: { [bad]: 1 } }, 'fixed'],
        ] as const) {
          const check = validate(stringify(spec));
          if (check.ok) throw new Error(`accepted ${JSON.stringify(bad)} as ${where}`);
          if (!check.problems.some((p) => p.path === where || p.path.startsWith(`${where}.`)))
            throw new Error(
              `refused ${JSON.stringify(bad)} without naming ${where}: ${JSON.stringify(check.problems)}`,
            );
        }
      }),
      { numRuns: 300 },
    );
  });

  it("checks every trial's parameters with the synthetic plugin's own schema", () => {
    const badValue = fc.oneof(
      fc.record({
        key: fc.constant('data_fraction'),
        value: fc.oneof(
          fc.double({ min: 1, max: 1e6, noNaN: true }),
          fc.double({ min: -1e6, max: 0, noNaN: true }),
          fc.string(),
        ),
      }),
      fc.record({
        key: fc.constant('weight_decay'),
        value: fc.oneof(fc.double({ min: -1e6, max: -1e-9, noNaN: true }), fc.boolean()),
      }),
      fc.record({
        key: fc.constant('model_size'),
        value: fc.oneof(fc.integer({ max: 0 }), fc.double({ min: 0.1, max: 0.9, noNaN: true })),
      }),
      fc.record({
        key: fc.constant('fail'),
        value: fc.string({ maxLength: 8 }).filter((s) => !(FAILURE_HOOKS as readonly string[]).includes(s)),
      }),
    );
    fc.assert(
      fc.property(badValue, fc.boolean(), ({ key, value }, swept) => {
        const spec = {
          name: 'plugin-check',
          trainer: 'synthetic',
          method: 'grid',
          budget: { trials: 2 },
          parameters: swept
            ? { [key]: { values: [value] }, seed: { values: [0, 1] } }
            : { seed: { values: [0, 1] } },
          ...(swept ? {} : { fixed: { [key]: value } }),
        };
        const check = validate(JSON.stringify(spec));
        if (check.ok) throw new Error(`accepted ${key}=${JSON.stringify(value)}`);
        const where = swept ? `parameters.${key}` : `fixed.${key}`;
        if (
          !check.problems.some((p) => p.path === where && /rejected by trainer 'synthetic'/.test(p.message))
        )
          throw new Error(`not refused at ${where}: ${JSON.stringify(check.problems)}`);
      }),
      { numRuns: 500 },
    );
  });

  it('a spec can never name a program to run: command/program keys are refused wherever they go', () => {
    const key = fc.constantFrom('command', 'program', 'exec', 'module', 'args', 'cwd', 'env');
    const value = fc.oneof(
      fc.constant('/bin/sh -c "rm -rf ~"'),
      fc.constant(['python', 'evil.py']),
      fc.string(),
    );
    fc.assert(
      fc.property(
        key,
        value,
        fc.constantFrom('top', 'fixed', 'resources', 'limits', 'budget'),
        (k, v, where) => {
          const spec: Record<string, unknown> = {
            name: 'no-commands',
            trainer: 'synthetic',
            method: 'grid',
            budget: { trials: 1 },
            parameters: { seed: { values: [0] } },
          };
          if (where === 'top') spec[k] = v;
          else spec[where] = { ...((spec[where] as object) ?? {}), [k]: v };
          const check = validate(stringify(spec));
          if (check.ok) throw new Error(`accepted ${k} in ${where}`);
          const expected = where === 'top' ? k : where;
          if (!check.problems.some((p) => p.path === expected || p.path.startsWith(`${expected}.`)))
            throw new Error(`refused without naming ${expected}: ${JSON.stringify(check.problems)}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});
