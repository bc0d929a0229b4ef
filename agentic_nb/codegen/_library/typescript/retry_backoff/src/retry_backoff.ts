import { RetryOptions } from "./types";

export class RetryError extends Error {
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(`gave up after ${attempts} attempts: ${String(lastError)}`);
    this.name = "RetryError";
  }
}

/** The delay before retry number `retry` (1-based). */
export function backoffDelay(retry: number, options: RetryOptions): number {
  const factor = options.factor ?? 2;
  const cap = options.maxDelayMs ?? Number.POSITIVE_INFINITY;
  return Math.min(options.baseDelayMs * factor ** (retry - 1), cap);
}

const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** Calls fn(attempt) until it resolves; waits with exponential backoff between attempts. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  if (!Number.isInteger(options.retries) || options.retries < 0) {
    throw new RangeError(`retries must be a non-negative integer, got ${options.retries}`);
  }
  const sleep = options.sleep ?? realSleep;
  let attempt = 0;
  for (;;) {
    attempt += 1;
    try {
      return await fn(attempt);
    } catch (error) {
      const retriable = options.shouldRetry?.(error, attempt) ?? true;
      if (!retriable) {
        throw error;
      }
      if (attempt > options.retries) {
        throw new RetryError(attempt, error);
      }
      await sleep(backoffDelay(attempt, options));
    }
  }
}
