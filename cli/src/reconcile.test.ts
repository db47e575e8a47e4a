import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  WorkflowFailedError,
} from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { endFromServer } from './reconcile.js';

const closedWith = (cause: Error) =>
  new WorkflowFailedError('Workflow execution failed', cause, 'RETRY_POLICY_NOT_SET');

describe('endFromServer: how a sweep the store says is running ended, from the server', () => {
  it('a terminated workflow: failed, with the reason the operator gave', () => {
    expect(
      endFromServer('TERMINATED', closedWith(new TerminatedFailure('stuck on a dead GPU node'))),
    ).toEqual({
      status: 'failed',
      verdict:
        'workflow terminated on the Temporal server before the sweep recorded its end: stuck on a dead GPU node',
    });
  });

  it('a failed workflow: failed, naming the activity and its error', () => {
    const cause = new ActivityFailure(
      'Activity task failed',
      'finishSweep',
      '9',
      'MAXIMUM_ATTEMPTS_REACHED',
      undefined,
      ApplicationFailure.retryable('database is locked', 'SqliteError'),
    );
    expect(endFromServer('FAILED', closedWith(cause))?.verdict).toBe(
      'workflow failed on the Temporal server before the sweep recorded its end: finishSweep failed for good: SqliteError: database is locked',
    );
  });

  it('a cancelled or timed-out workflow', () => {
    expect(endFromServer('CANCELLED', closedWith(new CancelledFailure('cancelled')))).toEqual({
      status: 'cancelled',
      verdict: 'workflow cancelled on the Temporal server before the sweep recorded its end: cancelled',
    });
    expect(endFromServer('TIMED_OUT')).toEqual({
      status: 'failed',
      verdict: 'workflow timed out on the Temporal server before the sweep recorded its end',
    });
  });

  it('leaves a running sweep, and a completed workflow the store disagrees with, alone', () => {
    expect(endFromServer('RUNNING')).toBeUndefined();
    expect(endFromServer('CONTINUED_AS_NEW')).toBeUndefined();
    expect(endFromServer('COMPLETED')).toBeUndefined();
  });
});
