import { PriorityQueue } from "../src/priority_queue";

const drain = <T>(q: PriorityQueue<T>): T[] => {
  const out: T[] = [];
  while (!q.isEmpty()) {
    out.push(q.pop() as T);
  }
  return out;
};

describe("PriorityQueue", () => {
  it("pops the lowest priority first", () => {
    const q = new PriorityQueue<string>();
    q.push("low", 5);
    q.push("urgent", 1);
    q.push("mid", 3);
    expect(q.peek()).toBe("urgent");
    expect(drain(q)).toEqual(["urgent", "mid", "low"]);
  });

  it("keeps insertion order among equal priorities", () => {
    const q = new PriorityQueue<string>();
    for (const v of ["a", "b", "c", "d", "e"]) {
      q.push(v, 1);
    }
    expect(drain(q)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("returns undefined when empty", () => {
    const q = new PriorityQueue<number>();
    expect(q.pop()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it("counts its entries", () => {
    const q = new PriorityQueue<number>();
    q.push(1, 1);
    q.push(2, 2);
    expect(q.size).toBe(2);
    q.pop();
    expect(q.size).toBe(1);
  });
});
