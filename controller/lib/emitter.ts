// In-process publish/subscribe: a listener that throws is reported, never allowed to stop the others.

export interface Emitter<T> {
  publish(value: T): void;
  subscribe(listener: (value: T) => void): () => void;
}

export function createEmitter<T>(onListenerError: (e: unknown) => void): Emitter<T> {
  const listeners = new Set<(value: T) => void>();
  return {
    publish(value) {
      for (const l of listeners) {
        try {
          l(value);
        } catch (e) {
          onListenerError(e);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
