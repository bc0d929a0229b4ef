import { TokenBucket } from "../src/rate_limiter";

describe("acceptance: TokenBucket", () => {
  it("a full burst, then one request per refill interval", () => {
    let t = 0;
    const b = new TokenBucket({ capacity: 2, refillPerSecond: 1, now: () => t });
    expect(b.tryTake()).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    expect(b.tryTake()).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(b.tryTake()).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 });
    t += 1000;
    expect(b.tryTake().allowed).toBe(true);
    expect(b.tryTake().allowed).toBe(false);
  });

  it("a long idle period refills to capacity only", () => {
    let t = 0;
    const b = new TokenBucket({ capacity: 3, refillPerSecond: 100, now: () => t });
    b.tryTake(3);
    t += 3_600_000;
    expect(b.available()).toBe(3);
    expect(b.tryTake(3).allowed).toBe(true);
    expect(b.tryTake().allowed).toBe(false);
  });

  it("takes several tokens at once and reports partial waits", () => {
    let t = 0;
    const b = new TokenBucket({ capacity: 10, refillPerSecond: 2, now: () => t });
    expect(b.tryTake(7).remaining).toBe(3);
    const d = b.tryTake(5);
    expect(d.allowed).toBe(false);
    expect(d.retryAfterMs).toBe(1000);
    t += 1000;
    expect(b.tryTake(5)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
  });

  it("a refused request takes nothing", () => {
    let t = 0;
    const b = new TokenBucket({ capacity: 4, refillPerSecond: 1, now: () => t });
    b.tryTake(3);
    expect(b.tryTake(2).allowed).toBe(false);
    expect(b.available()).toBe(1);
  });

  it("rejects impossible requests and bad options", () => {
    const b = new TokenBucket({ capacity: 2, refillPerSecond: 1, now: () => 0 });
    expect(() => b.tryTake(3)).toThrow(RangeError);
    expect(() => b.tryTake(0)).toThrow(RangeError);
    expect(() => new TokenBucket({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ capacity: 1, refillPerSecond: 0 })).toThrow(RangeError);
  });

  it("uses the real clock by default", () => {
    const b = new TokenBucket({ capacity: 1, refillPerSecond: 1 });
    expect(b.tryTake().allowed).toBe(true);
    expect(b.tryTake().allowed).toBe(false);
  });
});
