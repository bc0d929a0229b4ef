import { Entry } from "./types";

interface Slot<T> extends Entry<T> {
  readonly seq: number;
}

/** A binary min-heap: lowest priority first, first-in first-out among equal priorities. */
export class PriorityQueue<T> {
  private readonly heap: Slot<T>[] = [];
  private counter = 0;

  get size(): number {
    return this.heap.length;
  }

  isEmpty(): boolean {
    return this.heap.length === 0;
  }

  push(value: T, priority: number): void {
    if (Number.isNaN(priority)) {
      throw new RangeError("priority must be a number, got NaN");
    }
    this.heap.push({ value, priority, seq: this.counter });
    this.counter += 1;
    this.siftUp(this.heap.length - 1);
  }

  peek(): T | undefined {
    return this.heap[0]?.value;
  }

  pop(): T | undefined {
    const top = this.heap[0];
    if (top === undefined) {
      return undefined;
    }
    const last = this.heap.pop() as Slot<T>;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top.value;
  }

  /** Entries in the order pop() would return them (the queue is unchanged). */
  toArray(): Entry<T>[] {
    return [...this.heap].sort(compare).map((s) => ({ value: s.value, priority: s.priority }));
  }

  private siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = Math.floor((i - 1) / 2);
      if (compare(this.at(i), this.at(parent)) >= 0) {
        break;
      }
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(index: number): void {
    let i = index;
    const n = this.heap.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < n && compare(this.at(left), this.at(best)) < 0) {
        best = left;
      }
      if (right < n && compare(this.at(right), this.at(best)) < 0) {
        best = right;
      }
      if (best === i) {
        return;
      }
      this.swap(i, best);
      i = best;
    }
  }

  private at(i: number): Slot<T> {
    return this.heap[i] as Slot<T>;
  }

  private swap(a: number, b: number): void {
    const t = this.at(a);
    this.heap[a] = this.at(b);
    this.heap[b] = t;
  }
}

function compare<T>(a: Slot<T>, b: Slot<T>): number {
  return a.priority - b.priority || a.seq - b.seq;
}
