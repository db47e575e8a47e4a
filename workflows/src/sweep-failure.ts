import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  isCancellation,
  TemporalFailure,
} from '@temporalio/workflow';

/**
 * Why a failed activity failed, in one line: the application failure's type
 * and message, or the kind of timeout.
 */
export function failureReason(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) return `${cause.type ?? 'error'}: ${cause.message}`;
    if (cause && 'timeoutType' in cause)
      return `timeout (${String((cause as { timeoutType: unknown }).timeoutType)})`;
    return cause?.message ?? err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * The verdict a sweep records when `err` is about to fail its workflow for
 * good, or undefined when it is not: cancellation has its own path,
 * continue-as-new is no failure, and any other error (a bug in workflow code)
 * fails only the workflow task, which Temporal retries until a fixed worker
 * runs it, so the sweep is not over.
 */
export function sweepFailureVerdict(err: unknown): string | undefined {
  if (!(err instanceof TemporalFailure) || isCancellation(err)) return undefined;
  if (err instanceof ActivityFailure)
    return `${err.activityType ?? 'an activity'} failed for good: ${failureReason(err)}`;
  if (err instanceof ChildWorkflowFailure) {
    const cause = sweepFailureVerdict(err.cause) ?? err.cause?.message ?? err.message;
    return `partition ${err.execution.workflowId} failed: ${cause}`;
  }
  return err.message;
}

/**
 * Why a closed workflow failed, from what the client's `result()` rejected
 * with (its cause is the workflow's failure): the sweep's verdict for it, or
 * the failure's message.
 */
export function closedWorkflowReason(rejection: unknown): string | undefined {
  const cause = rejection instanceof Error && rejection.cause !== undefined ? rejection.cause : rejection;
  return sweepFailureVerdict(cause) ?? (cause instanceof Error ? cause.message : undefined);
}
