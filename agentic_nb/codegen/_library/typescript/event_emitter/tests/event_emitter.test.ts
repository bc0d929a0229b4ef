import { EventEmitter } from "../src/event_emitter";

type Events = { greet: [name: string]; count: [n: number, label: string] };

describe("EventEmitter", () => {
  it("calls every handler in registration order", () => {
    const emitter = new EventEmitter<Events>();
    const calls: string[] = [];
    emitter.on("greet", (name) => calls.push(`first ${name}`));
    emitter.on("greet", (name) => calls.push(`second ${name}`));
    expect(emitter.emit("greet", "ada")).toBe(2);
    expect(calls).toEqual(["first ada", "second ada"]);
  });

  it("passes all arguments", () => {
    const emitter = new EventEmitter<Events>();
    let got = "";
    emitter.on("count", (n, label) => {
      got = `${label}=${n}`;
    });
    emitter.emit("count", 3, "x");
    expect(got).toBe("x=3");
  });

  it("once handlers run only once", () => {
    const emitter = new EventEmitter<Events>();
    let n = 0;
    emitter.once("greet", () => {
      n += 1;
    });
    emitter.emit("greet", "a");
    emitter.emit("greet", "b");
    expect(n).toBe(1);
    expect(emitter.listenerCount("greet")).toBe(0);
  });

  it("off returns false for an unknown handler", () => {
    const emitter = new EventEmitter<Events>();
    expect(emitter.off("greet", () => undefined)).toBe(false);
  });

  it("unsubscribe stops a handler", () => {
    const emitter = new EventEmitter<Events>();
    let n = 0;
    const stop = emitter.on("greet", () => {
      n += 1;
    });
    stop();
    expect(emitter.emit("greet", "a")).toBe(0);
    expect(n).toBe(0);
  });
});
