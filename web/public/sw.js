// Wache service worker: keeps the app shell (HTML, scripts, styles, the
// wasm client core, icons) in a cache so the app starts without a network.
// API calls and the WebSocket are never cached: they carry ciphertext that
// the client core keeps in its own encrypted store.
// The build (vite.config.ts) fills in BUILD and SHELL.
const BUILD = "__BUILD_ID__";
const SHELL = ["__SHELL__"];
const CACHE = 'wache-shell-' + BUILD;
// Web Push notifications (content-free): sw-push.js.
importScripts('sw-push.js');

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then(async (cache) => {
      // One failing file (e.g. no wasm in a UI-only build) must not block the rest.
      await Promise.all(SHELL.filter((f) => f !== '__SHELL__').map((f) =>
        cache.add(new Request(f, { cache: 'reload' })).catch(() => {})));
    }).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('wache-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (req.mode === 'navigate') {
    // Network first for the page so a new build is seen at once; the cached
    // shell when offline.
    event.respondWith(
      fetch(req).then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put('./', copy));
        }
        return res;
      }).catch(() => caches.match('./', { ignoreSearch: true }).then((r) => r || caches.match('index.html'))),
    );
    return;
  }
  // Hashed assets and the rest of the shell: cache first.
  event.respondWith(
    caches.match(req, { ignoreSearch: true }).then((hit) => hit || fetch(req).then((res) => {
      if (res.ok && url.pathname.includes('/assets/')) {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(req, copy));
      }
      return res;
    })),
  );
});
