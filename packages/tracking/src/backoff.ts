// Exponential backoff with full jitter, shared by the MLflow client's requests and the outbox's delivery steps.

export interface BackoffOptions {
  /** First backoff ceiling in ms; doubles per retry up to `maxBackoffMs` (defaults 250 and 8000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Source of jitter in [0, 1). */
  random?: () => number;
}

/**
 * The wait before retry `attempt` (0 for the first retry): uniform in [0, min(max, min · 2^attempt)), so clients
 * that failed together do not retry together ("full jitter").
 */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const ceiling = Math.min(o.maxBackoffMs ?? 8000, (o.minBackoffMs ?? 250) * 2 ** attempt);
  return (o.random ?? Math.random)() * ceiling;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `step`, retrying up to `retries` times after failures `retryable` accepts, with backoff between tries. */
export async function withRetries<T>(
  step: () => Promise<T>,
  o: BackoffOptions & { retries: number; retryable: (error: unknown) => boolean },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!o.retryable(error) || attempt >= o.retries) throw error;
      await sleep(backoffDelay(attempt, o));
    }
  }
}
