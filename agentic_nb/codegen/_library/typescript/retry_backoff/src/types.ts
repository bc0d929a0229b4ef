export interface RetryOptions {
  /** Retries after the first attempt (so at most retries + 1 attempts). */
  readonly retries: number;
  /** Delay before the first retry, in milliseconds. */
  readonly baseDelayMs: number;
  /** Each further delay is multiplied by this (default 2). */
  readonly factor?: number;
  /** No delay exceeds this (default: no cap). */
  readonly maxDelayMs?: number;
  /** Whether an error is worth retrying (default: every error is). */
  readonly shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** How to wait (default: setTimeout); tests pass a fake one. */
  readonly sleep?: (ms: number) => Promise<void>;
}
