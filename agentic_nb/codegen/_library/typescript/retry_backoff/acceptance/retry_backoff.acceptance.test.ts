import { RetryError, backoffDelay, retry } from "../src/retry_backoff";

describe("acceptance: retry", () => {
  it("waits base, base*2, base*4 by default and passes the attempt number", async () => {
    const delays: number[] = [];
    const seen: number[] = [];
    const result = await retry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 4) {
          throw new Error("not yet");
        }
        return attempt * 10;
      },
      { retries: 3, baseDelayMs: 50, sleep: async (ms) => void delays.push(ms) },
    );
    expect(result).toBe(40);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(delays).toEqual([50, 100, 200]);
  });

  it("gives up with RetryError carrying the attempts and the last error", async () => {
    let caught: unknown;
    try {
      await retry(
        async (attempt) => {
          throw new Error(`fail ${attempt}`);
        },
        { retries: 1, baseDelayMs: 1, sleep: async () => undefined },
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RetryError);
    expect((caught as RetryError).attempts).toBe(2);
    expect(String((caught as RetryError).lastError)).toContain("fail 2");
  });

  it("retries zero times when asked", async () => {
    let n = 0;
    await expect(
      retry(
        async () => {
          n += 1;
          throw new Error("x");
        },
        { retries: 0, baseDelayMs: 1, sleep: async () => undefined },
      ),
    ).rejects.toBeInstanceOf(RetryError);
    expect(n).toBe(1);
  });

  it("rethrows a non-retriable error unwrapped after one attempt", async () => {
    class Fatal extends Error {}
    let n = 0;
    await expect(
      retry(
        async () => {
          n += 1;
          throw new Fatal("stop");
        },
        {
          retries: 4,
          baseDelayMs: 1,
          shouldRetry: (e) => !(e instanceof Fatal),
          sleep: async () => undefined,
        },
      ),
    ).rejects.toBeInstanceOf(Fatal);
    expect(n).toBe(1);
  });

  it("caps delays and rejects a negative retry count", async () => {
    expect(backoffDelay(10, { retries: 10, baseDelayMs: 10, maxDelayMs: 500 })).toBe(500);
    expect(backoffDelay(1, { retries: 1, baseDelayMs: 10 })).toBe(10);
    await expect(retry(async () => 1, { retries: -1, baseDelayMs: 1 })).rejects.toBeInstanceOf(RangeError);
  });

  it("uses real timers by default", async () => {
    let n = 0;
    const started = Date.now();
    const value = await retry(
      async () => {
        n += 1;
        if (n === 1) {
          throw new Error("once");
        }
        return "done";
      },
      { retries: 1, baseDelayMs: 20 },
    );
    expect(value).toBe("done");
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });
});
