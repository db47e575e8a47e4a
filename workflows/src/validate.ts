import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { gridShape } from './search-space.js';
import { HARD_TRIAL_CAP, type SweepSpec, sweepSpecSchema } from './spec.js';
import { plannedTrialCount, staticPlanner } from './trials.js';

/** One thing wrong with a spec, with where it is. */
export interface SpecProblem {
  /** Dotted path into the spec, e.g. `parameters.weight_decay.min`; empty for the whole file. */
  path: string;
  message: string;
  line?: number;
}

export type SpecCheck = { ok: true; spec: SweepSpec } | { ok: false; problems: SpecProblem[] };

/** What validation needs to know about a trainer: its parameter schema. */
export type TrainerLookup = (name: string) => { params: z.ZodType } | undefined;

/** How many trials' parameters are checked against the plugin schema (all of them up to this many). */
const PLUGIN_CHECK_LIMIT = 20_000;

/**
 * Parse and validate a spec file's text (YAML or JSON: JSON is YAML) and,
 * given the trainers this installation hosts, the merged parameters of every
 * trial. Returns every problem found, each with its path and, where the
 * source says, its line.
 */
export function validateSpecText(text: string, lookupTrainer: TrainerLookup): SpecCheck {
  if (text.trim() === '') return { ok: false, problems: [{ path: '', message: 'spec is empty' }] };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        path: '',
        message: `malformed YAML: ${e.message.split('\n')[0]}`,
        line: lineCounter.linePos(e.pos[0]).line,
      })),
    };
  }
  let raw: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs"); an alias without its anchor throws here too.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return {
      ok: false,
      problems: [{ path: '', message: `malformed YAML: ${(err as Error).message.split('\n')[0]}` }],
    };
  }
  const lineOf = (path: (string | number)[]): number | undefined => {
    let node: unknown = doc.contents;
    let found: unknown = node;
    for (const key of path) {
      if (isMap(node)) node = node.get(key, true);
      else if (isSeq(node)) node = node.get(Number(key), true);
      else break;
      if (node && typeof node === 'object' && 'range' in node) found = node;
    }
    const range = (found as { range?: [number, number, number] } | undefined)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  return validateSpecObject(raw, lookupTrainer, lineOf);
}

/** Validate an already-parsed spec object (from JSON, an API, a schedule). */
export function validateSpecObject(
  raw: unknown,
  lookupTrainer: TrainerLookup,
  lineOf: (path: (string | number)[]) => number | undefined = () => undefined,
): SpecCheck {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problems: [{ path: '', message: 'spec must be a mapping of keys to values' }] };
  }
  const parsed = sweepSpecSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => {
        const path = issue.path.map(String);
        const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
        if (unknownKeys.length > 0) {
          return {
            path: [...path, unknownKeys[0]!].join('.'),
            message: `unknown key${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.map((k) => `'${k}'`).join(', ')}`,
            line: lineOf([...issue.path.map((p) => p as string | number), unknownKeys[0]!]),
          };
        }
        return {
          path: path.join('.'),
          message: issue.message,
          line: lineOf(issue.path as (string | number)[]),
        };
      }),
    };
  }
  const spec = parsed.data;
  const problems: SpecProblem[] = [];

  const trainer = lookupTrainer(spec.trainer);
  if (!trainer)
    problems.push({
      path: 'trainer',
      message: `unknown trainer '${spec.trainer}'`,
      line: lineOf(['trainer']),
    });

  if (spec.method === 'grid') {
    const g = gridShape(spec);
    if (!g.ok) {
      problems.push({ path: g.path.join('.'), message: g.message, line: lineOf(g.path) });
    } else if (g.shape.size > HARD_TRIAL_CAP) {
      problems.push({
        path: 'parameters',
        message: `grid has ${g.shape.size} points, above the hard cap of ${HARD_TRIAL_CAP}`,
      });
    } else if (g.shape.size > spec.budget.trials) {
      problems.push({
        path: 'budget.trials',
        message: `grid has ${g.shape.size} points but budget.trials is ${spec.budget.trials}`,
        line: lineOf(['budget', 'trials']),
      });
    }
  }

  if (trainer && problems.length === 0) problems.push(...checkTrialParams(spec, trainer.params, lineOf));

  return problems.length > 0 ? { ok: false, problems } : { ok: true, spec };
}

/**
 * Run the plugin's schema over the merged parameters of the planned trials.
 * The same problem repeated across trials is reported once, with the
 * parameter that caused it.
 */
function checkTrialParams(
  spec: SweepSpec,
  schema: z.ZodType,
  lineOf: (path: (string | number)[]) => number | undefined,
): SpecProblem[] {
  const plan = staticPlanner({ ...spec, method: spec.method === 'grid' ? 'grid' : 'random' }, 'validate');
  const count = Math.min(plannedTrialCount(spec), PLUGIN_CHECK_LIMIT);
  const seen = new Map<string, SpecProblem>();
  for (let i = 0; i < count && seen.size < 50; i++) {
    const trial = plan(i);
    const result = schema.safeParse(trial.params);
    if (result.success) continue;
    for (const issue of result.error.issues) {
      const key = issue.path[0] === undefined ? '' : String(issue.path[0]);
      const where =
        key in spec.parameters ? ['parameters', key] : key in spec.fixed ? ['fixed', key] : ['fixed'];
      const path = [...where, ...issue.path.slice(1).map(String)].join('.');
      const id = `${path}|${issue.message}`;
      if (!seen.has(id)) {
        const value = key ? JSON.stringify(trial.params[key]) : '';
        seen.set(id, {
          path,
          message: `rejected by trainer '${spec.trainer}': ${issue.message}${value ? ` (value ${value})` : ''}`,
          line: lineOf(where),
        });
      }
    }
  }
  return [...seen.values()];
}

/** One line per problem, e.g. `parameters.weight_decay.min (line 7): must be > 0`. */
export function formatProblems(problems: SpecProblem[]): string {
  return problems
    .map((p) => `${p.path || '(spec)'}${p.line !== undefined ? ` (line ${p.line})` : ''}: ${p.message}`)
    .join('\n');
}
