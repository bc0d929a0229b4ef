import { EventMap, Handler, Unsubscribe } from "./types";

interface Registration {
  readonly fn: (...args: unknown[]) => void;
  readonly once: boolean;
}

export class EventEmitter<E extends EventMap> {
  private readonly handlers = new Map<keyof E, Registration[]>();

  on<K extends keyof E>(event: K, handler: Handler<E[K]>): Unsubscribe {
    return this.add(event, handler, false);
  }

  once<K extends keyof E>(event: K, handler: Handler<E[K]>): Unsubscribe {
    return this.add(event, handler, true);
  }

  off<K extends keyof E>(event: K, handler: Handler<E[K]>): boolean {
    const list = this.handlers.get(event);
    if (list === undefined) {
      return false;
    }
    const index = list.findIndex((r) => r.fn === (handler as unknown));
    if (index < 0) {
      return false;
    }
    list.splice(index, 1);
    return true;
  }

  /** Calls the event's handlers in registration order; returns how many ran. */
  emit<K extends keyof E>(event: K, ...args: E[K]): number {
    const snapshot = [...(this.handlers.get(event) ?? [])];
    for (let i = 0; i < snapshot.length; i += 1) {
      const registration = snapshot[i];
      if (registration === undefined) {
        continue;
      }
      if (registration.once) {
        this.remove(event, registration);
      }
      registration.fn(...args);
    }
    return snapshot.length;
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.handlers.get(event)?.length ?? 0;
  }

  private add<K extends keyof E>(event: K, handler: Handler<E[K]>, once: boolean): Unsubscribe {
    const registration: Registration = {
      fn: handler as unknown as (...args: unknown[]) => void,
      once,
    };
    const list = this.handlers.get(event) ?? [];
    list.push(registration);
    this.handlers.set(event, list);
    return () => this.remove(event, registration);
  }

  private remove(event: keyof E, registration: Registration): void {
    const list = this.handlers.get(event);
    const index = list === undefined ? -1 : list.indexOf(registration);
    if (list !== undefined && index >= 0) {
      list.splice(index, 1);
    }
  }
}
