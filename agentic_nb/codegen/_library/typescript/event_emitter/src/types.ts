/** Maps each event name to the tuple of arguments its handlers receive. */
export type EventMap = { [event: string]: unknown[] };

export type Handler<Args extends unknown[]> = (...args: Args) => void;

/** Calling it removes the handler it was returned for. */
export type Unsubscribe = () => void;
