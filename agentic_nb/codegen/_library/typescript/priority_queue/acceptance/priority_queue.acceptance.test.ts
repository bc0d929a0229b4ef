import { PriorityQueue } from "../src/priority_queue";

describe("acceptance: PriorityQueue", () => {
  it("sorts many values by priority", () => {
    const q = new PriorityQueue<number>();
    const priorities = [9, 3, 7, 1, 8, 2, 6, 4, 5, 0, 11, 10];
    for (const p of priorities) {
      q.push(p * 100, p);
    }
    const out: number[] = [];
    while (q.size > 0) {
      out.push(q.pop() as number);
    }
    expect(out).toEqual([...priorities].sort((a, b) => a - b).map((p) => p * 100));
  });

  it("is stable for ties mixed with other priorities", () => {
    const q = new PriorityQueue<string>();
    q.push("b1", 2);
    q.push("a1", 1);
    q.push("b2", 2);
    q.push("a2", 1);
    q.push("b3", 2);
    q.push("a3", 1);
    const out: string[] = [];
    while (!q.isEmpty()) {
      out.push(q.pop() as string);
    }
    expect(out).toEqual(["a1", "a2", "a3", "b1", "b2", "b3"]);
  });

  it("toArray lists entries in pop order without consuming them", () => {
    const q = new PriorityQueue<string>();
    q.push("x", 3);
    q.push("y", -1);
    expect(q.toArray()).toEqual([
      { value: "y", priority: -1 },
      { value: "x", priority: 3 },
    ]);
    expect(q.size).toBe(2);
  });

  it("peek does not remove", () => {
    const q = new PriorityQueue<string>();
    q.push("only", 0);
    expect(q.peek()).toBe("only");
    expect(q.size).toBe(1);
  });

  it("rejects a NaN priority", () => {
    expect(() => new PriorityQueue<number>().push(1, Number.NaN)).toThrow(RangeError);
  });
});
