import path from 'node:path';
import {
  type AnalysedTrial,
  compareSweeps,
  type RegressionSide,
  regressionAxes,
  writeRegressionPage,
} from '@grokmap/analysis';
import {
  type CompareToBaselineInput,
  type NotifyRegressionInput,
  parameterNames,
  type RegressionActivities,
  type RegressionVerdict,
  type SweepSpec,
} from '@grokmap/workflows';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { toAnalysedTrial } from '../analysed.js';
import type { ResultsStore, SweepRecord, TrialRecord } from '../store/types.js';

export interface RegressionActivityDeps {
  store: ResultsStore;
  logger: Logger;
  /** Folder for the regression page of a sweep that has no report folder of its own. */
  reportsDir?: string;
  /** The HTTP client for webhooks (tests may pass their own). */
  fetch?: typeof fetch;
  /** Seconds before a webhook request is abandoned (and retried). */
  webhookTimeoutS?: number;
}

/**
 * Control-queue activities of a regression run: compare a finished sweep
 * with its baseline (and draw the side-by-side page), store the verdict,
 * and POST a notification. The first two are idempotent; a notification is
 * sent with the sweep id as its Idempotency-Key so a receiver can drop a
 * retried delivery.
 */
export function createRegressionActivities(deps: RegressionActivityDeps): RegressionActivities {
  const post = deps.fetch ?? fetch;
  return {
    async compareToBaseline(input: CompareToBaselineInput): Promise<RegressionVerdict> {
      const sweep = await deps.store.getSweep(input.sweepId);
      if (!sweep) throw new Error(`no sweep ${input.sweepId} in the results store`);
      const baselineId = await resolveBaseline(deps.store, input);
      const baseline = baselineId ? await deps.store.getSweep(baselineId) : undefined;
      const currentRecords = await deps.store.listTrials(input.sweepId);
      const currentTrials = currentRecords.map(toAnalysedTrial);
      const baselineTrials = baseline
        ? (await deps.store.listTrials(baseline.sweepId)).map(toAnalysedTrial)
        : null;
      const axes = regressionAxes(parameterNames(sweep.spec as SweepSpec));
      const comparison = compareSweeps(baselineTrials, currentTrials, {
        ...axes,
        thresholds: input.thresholds,
      });
      const verdict: RegressionVerdict = {
        ...comparison,
        sweepId: input.sweepId,
        baselineSweepId: baseline?.sweepId ?? null,
        scheduleName: input.scheduleName ?? null,
        specName: input.specName,
      };
      if (baselineId && !baseline) {
        verdict.verdict = 'inconclusive';
        verdict.reasons = [`baseline sweep ${baselineId} is not in the results store`];
      }
      const failed = failedSweepReason(sweep, currentRecords);
      if (failed) {
        verdict.verdict = 'failed';
        verdict.reasons = [failed, ...verdict.reasons];
      } else if (sweep.status !== 'completed') {
        // Cancelled by a person (or somehow still running): it says nothing either way.
        verdict.verdict = 'inconclusive';
        verdict.reasons = [
          `the sweep ended ${sweep.status}${sweep.verdict ? ` (${sweep.verdict})` : ''}`,
          ...verdict.reasons,
        ];
      }
      const dir =
        sweep.reportDir ?? (deps.reportsDir ? path.join(deps.reportsDir, input.sweepId) : undefined);
      if (dir) {
        try {
          verdict.reportFile = await writeRegressionPage(
            {
              verdict,
              current: side(sweep, currentTrials),
              baseline: baseline && baselineTrials ? side(baseline, baselineTrials) : null,
            },
            path.join(dir, 'regression.html'),
          );
        } catch (err) {
          // The verdict matters more than its page: say so and carry on.
          deps.logger.error({ err, sweepId: input.sweepId }, 'regression page failed');
        }
      }
      deps.logger.info(
        { sweepId: input.sweepId, baseline: verdict.baselineSweepId, verdict: verdict.verdict },
        'regression verdict',
      );
      return verdict;
    },

    async recordRegression(verdict: RegressionVerdict): Promise<void> {
      await deps.store.saveRegression({
        sweepId: verdict.sweepId,
        scheduleName: verdict.scheduleName,
        specName: verdict.specName,
        baselineSweepId: verdict.baselineSweepId,
        verdict: verdict.verdict,
        details: verdict,
        createdAt: new Date().toISOString(),
      });
    },

    async notifyRegression(input: NotifyRegressionInput): Promise<void> {
      const body = input.target.format === 'slack' ? slackPayload(input.verdict) : jsonPayload(input.verdict);
      let response: Response;
      try {
        response = await post(input.target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': input.verdict.sweepId },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout((deps.webhookTimeoutS ?? 15) * 1000),
        });
      } catch (err) {
        throw new Error(`webhook ${input.target.url} unreachable: ${(err as Error).message}`);
      }
      await response.body?.cancel();
      if (response.ok) return;
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      const message = `webhook ${input.target.url} answered ${response.status}`;
      if (!retryable) throw ApplicationFailure.nonRetryable(message, 'WebhookRejected');
      throw new Error(message);
    },
  };
}

/**
 * Why a regression check's sweep counts as failed, or undefined: it ended failed (its failure
 * budget spent, or failed for good), or it completed without a trial classified because its
 * trials failed — training code that crashes on every trial, in a spec that sets no failure
 * budget to stop the sweep early. Such a run is the check's own verdict, `failed`, which notifies.
 */
export function failedSweepReason(sweep: SweepRecord, trials: readonly TrialRecord[]): string | undefined {
  if (sweep.status === 'failed') return `the sweep ended failed${sweep.verdict ? ` (${sweep.verdict})` : ''}`;
  if (sweep.status !== 'completed' || trials.some((t) => t.phase)) return undefined;
  const failed = trials.filter((t) => t.status === 'error' || t.status === 'timed_out');
  if (failed.length === 0) return undefined;
  const kinds = (['error', 'timed_out'] as const)
    .map((status) => [status, failed.filter((t) => t.status === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`);
  const first = failed.find((t) => t.error)?.error;
  return (
    `no trial of the sweep was classified: ${failed.length} of its ${trials.length} trials failed ` +
    `(${kinds.join(', ')})${first ? `; the first: ${first}` : ''}`
  );
}

async function resolveBaseline(store: ResultsStore, input: CompareToBaselineInput): Promise<string | null> {
  if (input.baseline === 'none') return null;
  if (input.baseline !== 'last-pass') return input.baseline;
  const found = await store.lastPassingSweep({
    ...(input.scheduleName ? { scheduleName: input.scheduleName } : { specName: input.specName }),
    excludeSweepId: input.sweepId,
  });
  return found ?? null;
}

function side(sweep: SweepRecord, trials: AnalysedTrial[]): RegressionSide {
  return { id: sweep.sweepId, name: sweep.name, spec: sweep.spec, trials };
}

/** One line a person reads first: what regressed against what. */
export function regressionSummary(v: RegressionVerdict): string {
  const where = v.scheduleName ? `schedule ${v.scheduleName}` : `spec ${v.specName}`;
  return `grokmap regression (${where}): sweep ${v.sweepId} ${v.verdict} against baseline ${v.baselineSweepId ?? 'none'}`;
}

/** Generic JSON webhook body: the summary fields first, the full comparison under `details`. */
export function jsonPayload(v: RegressionVerdict): Record<string, unknown> {
  return {
    event: 'grokmap.regression',
    summary: regressionSummary(v),
    verdict: v.verdict,
    sweepId: v.sweepId,
    baselineSweepId: v.baselineSweepId,
    scheduleName: v.scheduleName,
    specName: v.specName,
    changedShare: v.changedShare,
    reasons: v.reasons,
    ...(v.reportFile ? { reportFile: v.reportFile } : {}),
    details: v,
  };
}

/** Slack-compatible body (incoming webhooks): `text` as the fallback, `blocks` for the message. */
export function slackPayload(v: RegressionVerdict): { text: string; blocks: unknown[] } {
  const text = regressionSummary(v);
  const reasons = v.reasons.map((r) => `• ${r}`).join('\n');
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `grokmap: ${v.verdict}`.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: `${text}\n${reasons}`.slice(0, 3000) } },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `sweep \`${v.sweepId}\` · baseline \`${v.baselineSweepId ?? 'none'}\`${v.reportFile ? ` · report ${v.reportFile}` : ''}`,
          },
        ],
      },
    ],
  };
}
