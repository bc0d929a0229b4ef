import { InvalidTransitionError, StateMachine } from "../src/state_machine";

const door = {
  initial: "closed",
  states: ["closed", "open", "locked"],
  transitions: [
    { from: "closed", event: "open", to: "open" },
    { from: "open", event: "close", to: "closed" },
    { from: "closed", event: "lock", to: "locked" },
    { from: "locked", event: "unlock", to: "closed" },
  ],
};

describe("acceptance: StateMachine", () => {
  it("walks a full cycle", () => {
    const m = new StateMachine(door);
    expect(m.state).toBe("closed");
    expect(m.send("lock")).toBe("locked");
    expect(m.send("unlock")).toBe("closed");
    expect(m.send("open")).toBe("open");
    expect(m.state).toBe("open");
  });

  it("rejects an invalid event with the state and event named", () => {
    const m = new StateMachine(door);
    let caught: unknown;
    try {
      m.send("unlock");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidTransitionError);
    expect((caught as InvalidTransitionError).state).toBe("closed");
    expect((caught as InvalidTransitionError).event).toBe("unlock");
    expect(m.state).toBe("closed");
  });

  it("rejects a config whose initial state is unknown", () => {
    expect(() => new StateMachine({ ...door, initial: "ajar" })).toThrow();
  });

  it("rejects a transition to an unknown state", () => {
    const bad = { ...door, transitions: [{ from: "closed", event: "x", to: "nowhere" }] };
    expect(() => new StateMachine(bad)).toThrow();
  });

  it("keeps the whole history, initial state first, as a copy", () => {
    const m = new StateMachine(door);
    m.send("open");
    m.send("close");
    const h = m.getHistory();
    expect(h).toEqual(["closed", "open", "closed"]);
    h.push("mutated");
    expect(m.getHistory()).toHaveLength(3);
  });

  it("reports each change to every listener and stops after unsubscribe", () => {
    const m = new StateMachine(door);
    const a: string[] = [];
    const b: string[] = [];
    const stopA = m.onTransition((c) => a.push(c.to));
    m.onTransition((c) => b.push(`${c.from}>${c.event}>${c.to}`));
    m.send("open");
    stopA();
    m.send("close");
    expect(a).toEqual(["open"]);
    expect(b).toEqual(["closed>open>open", "open>close>closed"]);
  });

  it("can() is true exactly for events with a transition", () => {
    const m = new StateMachine(door);
    expect(m.can("open")).toBe(true);
    expect(m.can("lock")).toBe(true);
    expect(m.can("close")).toBe(false);
  });
});
