import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { ContinueAsNew } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { sweepFailureVerdict } from './sweep-failure.js';

const activityFailure = (cause: Error) =>
  new ActivityFailure(
    'Activity task failed',
    'suggestTrials',
    '7',
    RetryState.MAXIMUM_ATTEMPTS_REACHED,
    'worker-1',
    cause,
  );

describe('sweepFailureVerdict: what a sweep records when its workflow fails for good', () => {
  it('names the activity that ran out of attempts and why', () => {
    const err = activityFailure(
      ApplicationFailure.retryable('the store holds 0 of 4 trials', 'StoredTrialsMismatch'),
    );
    expect(sweepFailureVerdict(err)).toBe(
      'suggestTrials failed for good: StoredTrialsMismatch: the store holds 0 of 4 trials',
    );
  });

  it('names a timeout by its kind', () => {
    const err = activityFailure(new TimeoutFailure('timed out', undefined, TimeoutType.HEARTBEAT));
    expect(sweepFailureVerdict(err)).toBe(
      `suggestTrials failed for good: timeout (${TimeoutType.HEARTBEAT})`,
    );
  });

  it('names the partition that failed and what failed it', () => {
    const child = new ChildWorkflowFailure(
      'default',
      { workflowId: 'sweep-x.p0001', runId: 'r' },
      'sweepWorkflow',
      RetryState.NON_RETRYABLE_FAILURE,
      activityFailure(ApplicationFailure.nonRetryable('disk full', 'StoreWriteFailed')),
    );
    expect(sweepFailureVerdict(child)).toBe(
      'partition sweep-x.p0001 failed: suggestTrials failed for good: StoreWriteFailed: disk full',
    );
  });

  it('leaves cancellation, continue-as-new and bugs in workflow code (a task failure, retried) alone', () => {
    expect(sweepFailureVerdict(new CancelledFailure('cancelled'))).toBeUndefined();
    expect(sweepFailureVerdict(activityFailure(new CancelledFailure('cancelled')))).toBeUndefined();
    expect(sweepFailureVerdict(new ContinueAsNew({} as never))).toBeUndefined();
    expect(sweepFailureVerdict(new TypeError('x is undefined'))).toBeUndefined();
  });
});
