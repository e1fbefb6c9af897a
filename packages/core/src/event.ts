import type { Disposable } from './disposable.ts';

/** Subscribe with a listener; dispose the result to unsubscribe. */
export type Event<T> = (listener: (value: T) => void) => Disposable;

/**
 * Fires events to listeners. A listener that throws never breaks the emitter or the other
 * listeners: the error goes to `onListenerError` (default: reported as an uncaught exception
 * on the next tick would crash apps, so it is printed instead).
 */
export class Emitter<T> implements Disposable {
  private listeners: ((value: T) => void)[] = [];
  private readonly onListenerError: (error: unknown) => void;

  constructor(options: { onListenerError?: (error: unknown) => void } = {}) {
    this.onListenerError = options.onListenerError ?? defaultListenerError;
  }

  readonly event: Event<T> = (listener) => {
    this.listeners = [...this.listeners, listener];
    let active = true;
    return {
      dispose: () => {
        if (!active) return;
        active = false;
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  };

  get hasListeners(): boolean {
    return this.listeners.length > 0;
  }

  fire(value: T): void {
    // Copy-on-write array: listeners added or removed while firing take effect next time.
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(value);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  dispose(): void {
    this.listeners = [];
  }
}

function defaultListenerError(error: unknown): void {
  console.error('[meshless] event listener threw:', error);
}

/** Resolves with the next value of an event (for tests and one-shot waits). */
export function once<T>(event: Event<T>, predicate: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const sub = event((value) => {
      if (!predicate(value)) return;
      sub.dispose();
      resolve(value);
    });
  });
}
