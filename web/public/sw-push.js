// Web Push for the Wache service worker (imported by sw.js). A push says
// only what kind of thing waits ({"k":"alarm"|"reminder"|"message"}); the
// text stays encrypted until the app is opened and unlocked, so the
// notification has no content.
const WACHE_PUSH_TEXT = {
  alarm: { title: 'ALARM', body: 'Wache: Alarm – bitte App öffnen / open the app', path: '/#/alarms' },
  reminder: { title: 'Erinnerung: Quittieren', body: 'Eine Nachricht wartet auf Ihre Quittung / awaits your acknowledgement', path: '/#/alarms' },
  message: { title: 'Neue Nachricht', body: 'Wache: neue Nachricht / new message', path: '/#/' },
};

self.addEventListener('push', (event) => {
  let kind = 'message';
  try {
    const k = event.data && event.data.json().k;
    if (k in WACHE_PUSH_TEXT) kind = k;
  } catch (e) { /* no or unreadable payload: a plain "new message" */ }
  const t = WACHE_PUSH_TEXT[kind];
  const alarm = kind === 'alarm';
  event.waitUntil(self.registration.showNotification(t.title, {
    body: t.body,
    tag: 'wache-' + kind,
    renotify: true,
    requireInteraction: alarm || kind === 'reminder',
    vibrate: alarm ? [600, 200, 600, 200, 600] : [200],
    icon: 'icon-192.png',
    badge: 'icon-192.png',
    data: { path: t.path },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const path = (event.notification.data && event.notification.data.path) || '/';
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of wins) {
      if (new URL(w.url).origin === self.location.origin) {
        // No navigation: a reload would lock the app (keys live in memory
        // only). The app moves to the screen itself.
        await w.focus();
        w.postMessage({ type: 'wache-open', path });
        return;
      }
    }
    await self.clients.openWindow(path);
  })());
});
