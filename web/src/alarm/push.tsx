// Web Push in the app: the officer switches "Benachrichtigungen" on (a user
// action, which browsers require for the permission prompt); the app
// subscribes with the server's VAPID key through the service worker and
// registers the subscription. The push itself carries only its kind; the
// service worker (public/sw-push.js) shows a notification without content.
import { useEffect, useState } from 'preact/hooks';
import { ta } from './i18n';
import { wa } from './api';
import { errMsg } from '../state';

const PREF = 'wache.push';

function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function keyBytes(b64url: string): Uint8Array {
  const pad = '='.repeat((4 - (b64url.length % 4)) % 4);
  const raw = atob((b64url + pad).replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function registration(): Promise<ServiceWorkerRegistration> {
  const ready = navigator.serviceWorker.ready;
  const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('service worker not ready')), 10000));
  return Promise.race([ready, timeout]);
}

async function subscribe(): Promise<void> {
  const reg = await registration();
  const key = await wa().pushKey();
  let sub = await reg.pushManager.getSubscription();
  if (sub) {
    // A subscription made with another server key cannot be used.
    const k = sub.options?.applicationServerKey;
    if (k && btoa(String.fromCharCode(...new Uint8Array(k))) !== btoa(String.fromCharCode(...keyBytes(key)))) {
      await sub.unsubscribe();
      sub = null;
    }
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) as BufferSource });
  await wa().subscribePush(JSON.stringify(sub.toJSON()));
}

async function unsubscribe(): Promise<void> {
  const reg = await registration();
  const sub = await reg.pushManager.getSubscription();
  if (!sub) return;
  await wa().unsubscribePush(sub.endpoint).catch(() => {});
  await sub.unsubscribe();
}

// ensurePush renews the registration after login/unlock when the officer
// switched notifications on earlier (the endpoint may have rotated).
export function ensurePush() {
  if (!supported() || localStorage.getItem(PREF) !== '1' || Notification.permission !== 'granted') return;
  subscribe().catch((e) => console.warn('push', e));
}

export function PushToggle() {
  const [on, setOn] = useState(localStorage.getItem(PREF) === '1');
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const ok = supported();
  useEffect(() => {
    if (ok && Notification.permission === 'denied') setMsg(ta('pushDenied'));
  }, []);
  const change = async (want: boolean) => {
    setBusy(true);
    setMsg('');
    try {
      if (want) {
        const p = await Notification.requestPermission();
        if (p !== 'granted') {
          setMsg(ta('pushDenied'));
          return;
        }
        localStorage.setItem(PREF, '1');
        setOn(true);
        await subscribe();
        setMsg(ta('pushOn'));
      } else {
        localStorage.removeItem(PREF);
        setOn(false);
        await unsubscribe();
        setMsg(ta('pushOff'));
      }
    } catch (e) {
      setMsg(errMsg(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="push-toggle" data-testid="push-toggle">
      <label class="check">
        <input type="checkbox" id="set-push" checked={on} disabled={!ok || busy} onChange={(e) => change(e.currentTarget.checked)} />
        {' '}{ta('pushLabel')}
      </label>
      <small class="muted">{ok ? ta('pushHint') : ta('pushUnsupported')}</small>
      {msg && <small role="status" data-testid="push-status">{msg}</small>}
    </div>
  );
}
