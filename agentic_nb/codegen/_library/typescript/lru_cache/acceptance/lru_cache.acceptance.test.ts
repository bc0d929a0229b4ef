import { LRUCache } from "../src/lru_cache";

describe("acceptance: LRUCache", () => {
  it("evicts in least-recently-used order and reports evictions", () => {
    const evicted: Array<[string, number]> = [];
    const cache = new LRUCache<string, number>(2, (k, v) => evicted.push([k, v]));
    cache.set("x", 1);
    cache.set("y", 2);
    cache.get("x");
    cache.set("z", 3);
    expect(evicted).toEqual([["y", 2]]);
    expect(cache.keys()).toEqual(["x", "z"]);
  });

  it("updating a key refreshes it without growing", () => {
    const cache = new LRUCache<string, number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("a", 10);
    expect(cache.size).toBe(2);
    cache.set("c", 3);
    expect(cache.get("a")).toBe(10);
    expect(cache.has("b")).toBe(false);
  });

  it("holds exactly its capacity", () => {
    const cache = new LRUCache<number, number>(5);
    for (let i = 0; i < 5; i += 1) {
      cache.set(i, i * i);
    }
    expect(cache.size).toBe(5);
    expect(cache.keys()).toEqual([0, 1, 2, 3, 4]);
    cache.set(5, 25);
    expect(cache.keys()).toEqual([1, 2, 3, 4, 5]);
  });

  it("a capacity of one keeps the last entry", () => {
    const cache = new LRUCache<string, string>(1);
    cache.set("a", "A");
    cache.set("b", "B");
    expect(cache.keys()).toEqual(["b"]);
  });

  it("delete removes an entry and says whether it existed", () => {
    const cache = new LRUCache<string, number>(2);
    cache.set("a", 1);
    expect(cache.delete("a")).toBe(true);
    expect(cache.delete("a")).toBe(false);
    expect(cache.size).toBe(0);
  });

  it("rejects a fractional or zero capacity", () => {
    expect(() => new LRUCache<string, number>(0)).toThrow(RangeError);
    expect(() => new LRUCache<string, number>(1.5)).toThrow(RangeError);
  });
});
