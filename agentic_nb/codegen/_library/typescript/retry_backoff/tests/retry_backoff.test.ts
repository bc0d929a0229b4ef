import { RetryError, backoffDelay, retry } from "../src/retry_backoff";

const recorder = (): { delays: number[]; sleep: (ms: number) => Promise<void> } => {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
  };
};

const failing = (times: number) => {
  let calls = 0;
  return async (): Promise<string> => {
    calls += 1;
    if (calls <= times) {
      throw new Error(`boom ${calls}`);
    }
    return "ok";
  };
};

describe("retry", () => {
  it("returns the first success", async () => {
    const { sleep, delays } = recorder();
    await expect(retry(failing(2), { retries: 3, baseDelayMs: 100, sleep })).resolves.toBe("ok");
    expect(delays).toEqual([100, 200]);
  });

  it("makes retries + 1 attempts before giving up", async () => {
    const { sleep } = recorder();
    let attempts = 0;
    const fn = async (): Promise<string> => {
      attempts += 1;
      throw new Error("always");
    };
    await expect(retry(fn, { retries: 2, baseDelayMs: 1, sleep })).rejects.toBeInstanceOf(RetryError);
    expect(attempts).toBe(3);
  });

  it("stops at once when shouldRetry says no", async () => {
    const { sleep } = recorder();
    let attempts = 0;
    const fn = async (): Promise<string> => {
      attempts += 1;
      throw new Error("fatal");
    };
    const shouldRetry = (): boolean => false;
    await expect(retry(fn, { retries: 5, baseDelayMs: 1, shouldRetry, sleep })).rejects.toThrow("fatal");
    expect(attempts).toBe(1);
  });

  it("computes exponential delays with a cap", () => {
    const options = { retries: 5, baseDelayMs: 100, factor: 3, maxDelayMs: 1000 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, options))).toEqual([100, 300, 900, 1000]);
  });
});
