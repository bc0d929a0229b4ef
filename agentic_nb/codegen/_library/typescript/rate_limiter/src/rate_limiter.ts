import { Decision, RateLimiterOptions } from "./types";

/** A token-bucket rate limiter: starts full, refills continuously up to capacity. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(private readonly options: RateLimiterOptions) {
    if (!(options.capacity > 0)) {
      throw new RangeError(`capacity must be > 0, got ${options.capacity}`);
    }
    if (!(options.refillPerSecond > 0)) {
      throw new RangeError(`refillPerSecond must be > 0, got ${options.refillPerSecond}`);
    }
    this.now = options.now ?? (() => Date.now());
    this.tokens = options.capacity;
    this.last = this.now();
  }

  tryTake(count = 1): Decision {
    if (!(count > 0) || count > this.options.capacity) {
      throw new RangeError(`cannot take ${count} tokens from a bucket of ${this.options.capacity}`);
    }
    this.refill();
    if (this.tokens >= count) {
      this.tokens -= count;
      return { allowed: true, remaining: Math.floor(this.tokens), retryAfterMs: 0 };
    }
    const missing = count - this.tokens;
    return {
      allowed: false,
      remaining: Math.floor(this.tokens),
      retryAfterMs: Math.ceil((missing / this.options.refillPerSecond) * 1000),
    };
  }

  available(): number {
    this.refill();
    return Math.floor(this.tokens);
  }

  private refill(): void {
    const t = this.now();
    const elapsedSeconds = Math.max(0, t - this.last) / 1000;
    this.tokens = Math.min(this.options.capacity, this.tokens + elapsedSeconds * this.options.refillPerSecond);
    this.last = t;
  }
}
