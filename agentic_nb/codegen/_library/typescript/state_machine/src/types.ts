/** A state's name, e.g. "idle". */
export type State = string;
/** An event's name, e.g. "start". */
export type EventName = string;

/** Sending `event` while in `from` moves the machine to `to`. */
export interface Transition {
  readonly from: State;
  readonly event: EventName;
  readonly to: State;
}

export interface MachineConfig {
  readonly initial: State;
  readonly states: readonly State[];
  readonly transitions: readonly Transition[];
}

export interface TransitionChange {
  readonly from: State;
  readonly event: EventName;
  readonly to: State;
}

export type TransitionListener = (change: TransitionChange) => void;
