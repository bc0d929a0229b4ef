import { TokenBucket } from "../src/rate_limiter";

const clock = () => {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe("TokenBucket", () => {
  it("allows exactly capacity requests in a burst", () => {
    const c = clock();
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 1, now: c.now });
    const allowed = [1, 2, 3, 4].map(() => bucket.tryTake().allowed);
    expect(allowed).toEqual([true, true, true, false]);
  });

  it("refills over time", () => {
    const c = clock();
    const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 2, now: c.now });
    bucket.tryTake();
    bucket.tryTake();
    expect(bucket.tryTake().allowed).toBe(false);
    c.advance(500);
    expect(bucket.tryTake().allowed).toBe(true);
  });

  it("never holds more than capacity", () => {
    const c = clock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, now: c.now });
    c.advance(60_000);
    expect(bucket.available()).toBe(5);
  });

  it("says how long to wait", () => {
    const c = clock();
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 4, now: c.now });
    bucket.tryTake();
    expect(bucket.tryTake().retryAfterMs).toBe(250);
  });
});
