import { InvalidTransitionError, StateMachine } from "../src/state_machine";
import { MachineConfig } from "../src/types";

const traffic: MachineConfig = {
  initial: "green",
  states: ["green", "yellow", "red"],
  transitions: [
    { from: "green", event: "timer", to: "yellow" },
    { from: "yellow", event: "timer", to: "red" },
    { from: "red", event: "timer", to: "green" },
    { from: "yellow", event: "emergency", to: "red" },
  ],
};

describe("StateMachine", () => {
  it("starts in the initial state", () => {
    expect(new StateMachine(traffic).state).toBe("green");
  });

  it("follows transitions on events", () => {
    const m = new StateMachine(traffic);
    expect(m.send("timer")).toBe("yellow");
    expect(m.send("emergency")).toBe("red");
    expect(m.state).toBe("red");
  });

  it("throws InvalidTransitionError on an event with no transition", () => {
    const m = new StateMachine(traffic);
    expect(() => m.send("emergency")).toThrow(InvalidTransitionError);
    expect(m.state).toBe("green");
  });

  it("says whether an event can be sent", () => {
    const m = new StateMachine(traffic);
    expect(m.can("timer")).toBe(true);
    expect(m.can("emergency")).toBe(false);
  });

  it("records the history including the initial state", () => {
    const m = new StateMachine(traffic);
    m.send("timer");
    m.send("timer");
    expect(m.getHistory()).toEqual(["green", "yellow", "red"]);
  });

  it("notifies listeners until they unsubscribe", () => {
    const m = new StateMachine(traffic);
    const seen: string[] = [];
    const stop = m.onTransition((c) => seen.push(`${c.from}-${c.event}-${c.to}`));
    m.send("timer");
    stop();
    m.send("timer");
    expect(seen).toEqual(["green-timer-yellow"]);
  });
});
