// App-wide state: which screen the app is in, the connection, the user,
// and short notices. Everything here is plaintext-free except the user's
// own name and address (shown in the header).
import type { ConnectionEvent, Me } from './api';
import { signal } from './signal';
import { errCode } from './api';

export type Phase = 'loading' | 'loadError' | 'login' | 'locked' | 'corrupt' | 'main';

export const phase = signal<Phase>('loading');
export const lockedEmail = signal<string>('');
export const loginNotice = signal<string>(''); // i18n key shown above the login form
export const connection = signal<ConnectionEvent>({ state: 'connecting' });
export const me = signal<Me | null>(null);
export const toast = signal<string>('');

let toastTimer: ReturnType<typeof setTimeout> | undefined;
export function showToast(msg: string) {
  toast.set(msg);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toast.set(''), 6000);
}

// route is the part after '#', e.g. "/chat/ID".
export const route = signal<string>(location.hash.slice(1) || '/');
addEventListener('hashchange', () => route.set(location.hash.slice(1) || '/'));
export function go(path: string) {
  if (location.hash.slice(1) !== path) location.hash = path;
}

// handleFatal moves the app to the right screen for errors that end a
// session; it reports whether it did.
export function handleFatal(e: unknown): boolean {
  const c = errCode(e);
  if (c === 'EREVOKED' || c === 'EUNAUTHORIZED') {
    me.set(null);
    loginNotice.set('sessionEnded');
    phase.set('login');
    return true;
  }
  if (c === 'ELOCKED') {
    phase.set('locked');
    return true;
  }
  if (c === 'ECORRUPT') {
    phase.set('corrupt');
    return true;
  }
  return false;
}

export function errMsg(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
