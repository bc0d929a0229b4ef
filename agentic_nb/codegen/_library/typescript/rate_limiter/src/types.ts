export interface RateLimiterOptions {
  /** Most tokens the bucket holds (and the largest burst). */
  readonly capacity: number;
  /** Tokens added per second, continuously. */
  readonly refillPerSecond: number;
  /** Clock in milliseconds (default Date.now); tests pass a fake one. */
  readonly now?: () => number;
}

export interface Decision {
  readonly allowed: boolean;
  /** Whole tokens left after this decision. */
  readonly remaining: number;
  /** Milliseconds until the request would be allowed (0 when allowed). */
  readonly retryAfterMs: number;
}
