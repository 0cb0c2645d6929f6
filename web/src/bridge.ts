// Loads the Go client core (wasm_exec.js + wache.wasm) and hands out the
// window.wache bridge. The UI talks to nothing else: no fetch to the API,
// no keys, no plaintext at rest.
import type { Bridge, EventMap } from './api';
import { signal } from './signal';

let bridge: Bridge | undefined;
export const loadProgress = signal<number>(0);

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.appendChild(s);
  });
}

async function fetchWasm(url: string): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`cannot load ${url}: ${res.status}`);
  // Content-Length is of the compressed body when gzip is used: use it only as a hint.
  const total = Number(res.headers.get('Content-Length') || 0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    if (total > 0) loadProgress.set(Math.min(0.99, got / total));
  }
  const out = new Uint8Array(got);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  loadProgress.set(1);
  return out.buffer;
}

async function waitFor<T>(get: () => T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error('the client core did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function loadBridge(): Promise<Bridge> {
  if (bridge) return bridge;
  if (import.meta.env.DEV && new URLSearchParams(location.search).has('fake')) {
    // Local UI development only (vite dev server); never part of a build.
    const { fakeBridge } = await import('./fake');
    bridge = fakeBridge();
    return bridge;
  }
  if (!window.wache) {
    if (!window.Go) await loadScript('wasm_exec.js');
    const go = new window.Go!();
    let instance: WebAssembly.Instance;
    if (WebAssembly.instantiateStreaming) {
      // Streaming compiles while downloading, and lets the browser keep the
      // compiled code with the cached response: warm starts skip the compile.
      // The progress bar is then indeterminate.
      loadProgress.set(NaN);
      try {
        instance = (await WebAssembly.instantiateStreaming(fetch('wache.wasm'), go.importObject)).instance;
      } catch {
        // e.g. a proxy that changed the Content-Type: fall back to bytes
        instance = (await WebAssembly.instantiate(await fetchWasm('wache.wasm'), go.importObject)).instance;
      }
    } else {
      instance = (await WebAssembly.instantiate(await fetchWasm('wache.wasm'), go.importObject)).instance;
    }
    performance.mark('wache-wasm-instantiated');
    // go.run resolves only when the Go program exits; the bridge lives on.
    go.run(instance).catch((e) => console.error('client core stopped', e));
  }
  bridge = await waitFor(() => window.wache, 30000);
  performance.mark('wache-bridge-ready');
  return bridge;
}

export function w(): Bridge {
  if (!bridge) throw new Error('bridge not loaded');
  return bridge;
}

// on subscribes to a bridge event; the bridge may return the unsubscribe
// function directly or as a promise.
export function on<K extends keyof EventMap>(ev: K, cb: (e: EventMap[K]) => void): () => void {
  const r = w().on(ev, cb);
  if (typeof r === 'function') return r;
  let off: (() => void) | undefined;
  let gone = false;
  Promise.resolve(r).then((f) => {
    if (gone) f?.();
    else off = f;
  });
  return () => {
    gone = true;
    off?.();
  };
}
