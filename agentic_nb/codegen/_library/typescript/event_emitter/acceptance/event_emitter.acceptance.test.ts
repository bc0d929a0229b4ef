import { EventEmitter } from "../src/event_emitter";

type Events = { data: [value: number]; done: [] };

describe("acceptance: EventEmitter", () => {
  it("emit with no handlers returns 0", () => {
    expect(new EventEmitter<Events>().emit("done")).toBe(0);
  });

  it("runs handlers in order and counts them", () => {
    const e = new EventEmitter<Events>();
    const seen: number[] = [];
    e.on("data", (v) => seen.push(v));
    e.on("data", (v) => seen.push(v * 10));
    e.on("data", (v) => seen.push(v * 100));
    expect(e.emit("data", 2)).toBe(3);
    expect(seen).toEqual([2, 20, 200]);
  });

  it("once removes the handler before it runs, even if it re-emits", () => {
    const e = new EventEmitter<Events>();
    let n = 0;
    e.once("done", () => {
      n += 1;
      e.emit("done");
    });
    e.emit("done");
    expect(n).toBe(1);
    expect(e.listenerCount("done")).toBe(0);
  });

  it("off removes one handler and reports it", () => {
    const e = new EventEmitter<Events>();
    const h = (): void => undefined;
    e.on("done", h);
    expect(e.listenerCount("done")).toBe(1);
    expect(e.off("done", h)).toBe(true);
    expect(e.off("done", h)).toBe(false);
    expect(e.listenerCount("done")).toBe(0);
  });

  it("events are independent", () => {
    const e = new EventEmitter<Events>();
    let data = 0;
    e.on("data", () => {
      data += 1;
    });
    e.emit("done");
    expect(data).toBe(0);
    expect(e.listenerCount("data")).toBe(1);
  });
});
