// A minimal observable value with a Preact hook: enough shared state for
// this app without another dependency.
import { useEffect, useState } from 'preact/hooks';

export interface Signal<T> {
  get(): T;
  set(v: T): void;
  sub(fn: (v: T) => void): () => void;
}

export function signal<T>(v: T): Signal<T> {
  const subs = new Set<(v: T) => void>();
  return {
    get: () => v,
    set(nv: T) {
      v = nv;
      for (const fn of [...subs]) fn(v);
    },
    sub(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}

export function useSignal<T>(s: Signal<T>): T {
  const [v, setV] = useState(s.get());
  useEffect(() => {
    setV(s.get());
    return s.sub(setV);
  }, [s]);
  return v;
}
