// Alarm state of the app: the alarms this user sees, the takeover of an
// incoming alarm, this device's own SOS (with the position watch that
// feeds it), pending acknowledgements. Plaintext here lives in memory only.
import { signal } from '../signal';
import { showToast, errMsg, me, go } from '../state';
import { wa, onAlarm, isActive, type AlarmView, type PriorityEntry, type Pos, type AlarmEvents, type AlarmSighting } from './api';
import { ta } from './i18n';

export const alarmViews = signal<AlarmView[]>([]);
export const takeover = signal<string>(''); // id of the alarm shown full screen
export const pendingPrio = signal<PriorityEntry[]>([]);
export type GeoState = { state: 'off' | 'wait' | 'ok' | 'denied' | 'unavailable'; accuracy?: number };
export const geo = signal<GeoState>({ state: 'off' });
export const raising = signal<boolean>(false);

const dismissed = new Set<string>();

export const ownAlarm = (): AlarmView | undefined => alarmViews.get().find((v) => v.mine && isActive(v.alarm));
// The alarm this device raised: only this device sends its positions (the
// officer's other devices show the alarm without asking for a position).
const deviceAlarm = (): AlarmView | undefined =>
  alarmViews.get().find((v) => v.mine && isActive(v.alarm) && v.alarm.raised_device === me.get()?.device.id);

export function isDispatcher(): boolean {
  return !!me.get()?.user.roles?.includes('dispatcher');
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
export function refreshAlarms(delay = 0) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    try {
      const list = await wa().alarms({});
      mergeViews(list, true);
    } catch {
      /* offline: keep what we have; frames and the next refresh catch up */
    }
  }, delay);
}

function mergeViews(list: AlarmView[], replace: boolean) {
  const byId = new Map<string, AlarmView>(replace ? [] : alarmViews.get().map((v) => [v.alarm.id, v]));
  for (const v of list) byId.set(v.alarm.id, v);
  const out = [...byId.values()].sort((a, b) => b.alarm.raised_at.localeCompare(a.alarm.raised_at));
  alarmViews.set(out);
  for (const v of out) considerTakeover(v);
  syncWatch();
}

function considerTakeover(v: AlarmView) {
  if (v.mine || !isActive(v.alarm) || v.my_response || dismissed.has(v.alarm.id)) {
    if (takeover.get() === v.alarm.id && (!isActive(v.alarm) || v.my_response)) takeover.set('');
    return;
  }
  if (isDispatcher()) {
    // Dispatch answers nothing: its screen is the list of every alarm.
    if (!dismissed.has(v.alarm.id)) {
      dismissed.add(v.alarm.id);
      ring();
      go('/alarms');
    }
    return;
  }
  if (takeover.get() !== v.alarm.id) {
    takeover.set(v.alarm.id);
    ring();
  }
}

// applyPosition folds a decrypted SOS or live position into the view of
// its alarm (only the raiser's own messages count, as in the core); false
// when the alarm is not in the list yet.
function applyPosition(e: AlarmEvents['alarm']): boolean {
  const list = alarmViews.get();
  const i = list.findIndex((v) => v.alarm.raised_by === e.sender_id &&
    ((e.alarm_id && v.alarm.id === e.alarm_id) || (e.client_id && v.alarm.client_id === e.client_id)));
  if (i < 0) return false;
  const v = list[i];
  const c: AlarmSighting = { ...(v.content ?? { updates: 0, last_at: '' }) };
  if (e.note) c.note = e.note;
  if (e.location && (!c.location || Date.parse(e.location.time) > Date.parse(c.location.time))) {
    if (c.location && e.alarm_id) c.updates = (c.updates ?? 0) + 1;
    c.location = e.location;
    c.last_at = e.location.time;
  }
  if (e.stopped) c.stopped = true;
  const out = [...list];
  out[i] = { ...v, content: c };
  alarmViews.set(out);
  return true;
}

export function dismissTakeover() {
  const id = takeover.get();
  if (id) dismissed.add(id);
  takeover.set('');
}

export async function refreshPriority() {
  try {
    pendingPrio.set(await wa().priorityMessages({ pending: true }));
  } catch {
    /* locked or offline */
  }
}

// A position event whose alarm was not in the list yet, and the timer
// that asks the server for the list if the alarm does not follow.
let missed: AlarmEvents['alarm'] | undefined;
let missedTimer: ReturnType<typeof setTimeout> | undefined;

let started = false;
export function startAlarmState() {
  refreshAlarms();
  refreshPriority();
  if (started) return;
  started = true;
  onAlarm('alarm', (e) => {
    if (e.alarm) {
      mergeViews([e.alarm], false);
      // A frame's copy is complete unless marked partial (a long timeline
      // or many responders): only then is the full alarm fetched, so an
      // SOS to a thousand phones is not followed by a thousand requests.
      if (e.alarm.alarm.partial) refreshAlarms(1000 + Math.random() * 2000);
      if (missed && applyPosition(missed)) {
        clearTimeout(missedTimer);
        missed = undefined;
      }
    } else if (e.position && !applyPosition(e)) {
      // An SOS is decrypted just before its alarm arrives (same frame); the
      // alarm's view already holds what was decrypted. Ask the server only
      // if the alarm has not come a few seconds later.
      missed = e;
      clearTimeout(missedTimer);
      missedTimer = setTimeout(() => {
        missed = undefined;
        refreshAlarms();
      }, 3000 + Math.random() * 2000);
    }
  });
  onAlarm('priority', () => refreshPriority());
  onAlarm('reminder', (e) => {
    refreshPriority();
    refreshAlarms();
    // An alarm this user has not answered comes back on screen.
    const v = alarmViews.get().find((x) => !x.mine && isActive(x.alarm) && !x.my_response);
    if (v) {
      dismissed.delete(v.alarm.id);
      considerTakeover(v);
    } else {
      showToast(ta('reminder'));
      buzz([300, 150, 300]);
    }
    void e;
  });
}

// Sound and vibration where the browser allows it (vibration needs a
// touch device; sound may need an earlier user gesture: failures are
// silent, the red screen is the alarm).
function buzz(p: number[]) {
  try { navigator.vibrate?.(p); } catch { /* not allowed */ }
}

function ring() {
  buzz([600, 200, 600, 200, 600]);
  try {
    const AC = (window as unknown as { AudioContext?: typeof AudioContext }).AudioContext;
    if (!AC) return;
    const ctx = new AC();
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.type = 'square';
    o.connect(g);
    g.connect(ctx.destination);
    g.gain.value = 0.15;
    for (let i = 0; i < 6; i++) o.frequency.setValueAtTime(i % 2 ? 660 : 880, ctx.currentTime + i * 0.35);
    o.start();
    o.stop(ctx.currentTime + 2.1);
    o.onended = () => ctx.close();
  } catch { /* no audio */ }
}

// ---- own SOS and the position watch ----

let watchId: number | undefined;
let lastFix: Pos | undefined;

export function startWatch() {
  if (watchId !== undefined) return;
  if (!('geolocation' in navigator)) {
    geo.set({ state: 'unavailable' });
    return;
  }
  if (geo.get().state !== 'ok') geo.set({ state: 'wait' });
  watchId = navigator.geolocation.watchPosition(
    (p) => {
      lastFix = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.min(p.coords.accuracy || 0, 100000) };
      geo.set({ state: 'ok', accuracy: Math.round(lastFix.accuracy_m) });
      if (deviceAlarm()) wa().updateSOSPosition(lastFix).catch(() => {});
    },
    (err) => {
      geo.set({ state: err.code === err.PERMISSION_DENIED ? 'denied' : 'unavailable' });
    },
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 },
  );
}

export function stopWatch() {
  if (watchId !== undefined) navigator.geolocation.clearWatch(watchId);
  watchId = undefined;
  lastFix = undefined;
  geo.set({ state: 'off' });
}

function syncWatch() {
  if (deviceAlarm()) startWatch();
  else if (!raising.get() && watchId !== undefined) stopWatch();
}

// raiseSOS sends the alarm: with the newest fix when there is one (the
// watch started when the press began), after at most 1.5 s more waiting
// for a first fix; without a position when there is none.
export async function raiseSOS(note: string): Promise<AlarmView | undefined> {
  raising.set(true);
  try {
    startWatch();
    const end = Date.now() + 1500;
    while (!lastFix && geo.get().state === 'wait' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    const v = await wa().sos({ note: note || undefined, position: lastFix });
    mergeViews([v], false);
    if (v.alarm.duplicate) showToast(ta('sosDuplicate'));
    if (lastFix) wa().updateSOSPosition(lastFix).catch(() => {});
    return v;
  } catch (e) {
    showToast(ta('sosFailed', { msg: errMsg(e) }));
    return undefined;
  } finally {
    raising.set(false);
    syncWatch();
  }
}

export async function endAlarm(id: string, falseAlarm: boolean) {
  try {
    const v = await wa().endAlarm(id, { falseAlarm });
    mergeViews([v], false);
  } catch (e) {
    showToast(errMsg(e));
  }
}

export async function respond(id: string, r: 'coming' | 'cannot', etaMin: number) {
  try {
    const v = await wa().respond(id, r, r === 'coming' ? Math.round(etaMin * 60) : 0);
    if (takeover.get() === id) takeover.set('');
    mergeViews([v], false);
  } catch (e) {
    showToast(errMsg(e));
  }
}
