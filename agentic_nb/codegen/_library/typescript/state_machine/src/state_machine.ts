import { EventName, MachineConfig, State, TransitionListener } from "./types";

export class InvalidTransitionError extends Error {
  constructor(
    readonly state: State,
    readonly event: EventName,
  ) {
    super(`no transition from "${state}" on "${event}"`);
    this.name = "InvalidTransitionError";
  }
}

export class StateMachine {
  private current: State;
  private readonly table = new Map<string, State>();
  private readonly listeners: TransitionListener[] = [];
  private readonly history: State[] = [];

  constructor(config: MachineConfig) {
    if (!config.states.includes(config.initial)) {
      throw new Error(`initial state "${config.initial}" is not one of the states`);
    }
    for (const t of config.transitions) {
      if (!config.states.includes(t.from) || !config.states.includes(t.to)) {
        throw new Error(`transition ${t.from} -> ${t.to} uses an unknown state`);
      }
      this.table.set(key(t.from, t.event), t.to);
    }
    this.current = config.initial;
    this.history.push(config.initial);
  }

  get state(): State {
    return this.current;
  }

  can(event: EventName): boolean {
    return this.table.has(key(this.current, event));
  }

  send(event: EventName): State {
    const to = this.table.get(key(this.current, event));
    if (to === undefined) {
      throw new InvalidTransitionError(this.current, event);
    }
    const from = this.current;
    this.current = to;
    this.history.push(to);
    for (const listener of [...this.listeners]) {
      listener({ from, event, to });
    }
    return to;
  }

  onTransition(listener: TransitionListener): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) {
        this.listeners.splice(index, 1);
      }
    };
  }

  getHistory(): State[] {
    return this.history.slice(0);
  }
}

function key(state: State, event: EventName): string {
  return `${state}\u0000${event}`;
}
