// What the alarm feature adds on top of every main screen: the full-screen
// takeover of an incoming alarm, the bar of this device's own running
// alarm, the bar of messages waiting to be acknowledged, and the SOS button.
import { useEffect } from 'preact/hooks';
import { useSignal } from '../signal';
import { go, showToast, errMsg } from '../state';
import { Icon } from '../components/icon';
import { ta } from './i18n';
import { isActive, wa } from './api';
import { alarmViews, takeover, pendingPrio, geo, startAlarmState, dismissTakeover, endAlarm, refreshPriority, isDispatcher } from './state';
import { AnswerButtons, Responders, stateLabel } from './card';
import { OfflineMap } from '../components/map';
import { SOSButton } from './sosbutton';
import { ensurePush } from './push';
import './alarm.css';

export function AlarmLayer({ path }: { path: string }) {
  useEffect(() => {
    startAlarmState();
    ensurePush();
    // A click on a push notification focuses this window and names a screen.
    const onMsg = (e: MessageEvent) => {
      const d = e.data as { type?: string; path?: string } | null;
      if (d?.type === 'wache-open' && typeof d.path === 'string' && d.path.startsWith('/#/')) go(d.path.slice(2));
    };
    navigator.serviceWorker?.addEventListener('message', onMsg);
    return () => navigator.serviceWorker?.removeEventListener('message', onMsg);
  }, []);
  const inChat = path.startsWith('/chat/');
  return (
    <>
      <Takeover />
      <OwnAlarmBar />
      <PriorityBar />
      {!inChat && path !== '/alarms' && !isDispatcher() && (
        <div class="sos-fab"><SOSButton compact onRaised={() => go('/alarms')} /></div>
      )}
    </>
  );
}

function Takeover() {
  const id = useSignal(takeover);
  const views = useSignal(alarmViews);
  const v = views.find((x) => x.alarm.id === id);
  useEffect(() => {
    if (v) document.getElementById('takeover-h')?.focus();
  }, [v?.alarm.id]);
  if (!v) return null;
  const a = v.alarm;
  const loc = v.content?.location;
  return (
    <div class="takeover" role="alertdialog" aria-modal="true" aria-labelledby="takeover-h" aria-describedby="takeover-d" data-testid="alarm-takeover"
      onKeyDown={(e) => { if (e.key === 'Escape') dismissTakeover(); }}>
      <div class="takeover-inner">
        <h1 id="takeover-h" tabIndex={-1}><Icon name="alert" /> {ta('incoming')}</h1>
        <p id="takeover-d" class="takeover-who">{ta('incomingFrom', { name: a.raised_by_name || a.raised_by_email })}</p>
        <p class="takeover-state">{stateLabel(a.state)}</p>
        {v.content?.note && <p class="takeover-note">{v.content.note}</p>}
        {loc && <OfflineMap lat={loc.lat} lon={loc.lon} accuracy={loc.accuracy_m || 0} live />}
        <Responders v={v} />
        <AnswerButtons v={v} big />
        <div class="row left">
          <button class="btn small" onClick={() => { dismissTakeover(); go('/alarms'); }}>{ta('showAlarm')}</button>
          <button class="btn small" onClick={dismissTakeover}>{ta('dismissTakeover')}</button>
        </div>
      </div>
    </div>
  );
}

function OwnAlarmBar() {
  const views = useSignal(alarmViews);
  const g = useSignal(geo);
  const v = views.find((x) => x.mine && isActive(x.alarm));
  if (!v) return null;
  const coming = v.alarm.responses.filter((r) => r.response === 'coming');
  return (
    <div class="own-alarm" role="status" aria-live="polite" data-testid="own-alarm">
      <div class="grow">
        <strong><Icon name="alert" /> {ta('myAlarm')}: {stateLabel(v.alarm.state)}</strong>
        <div data-testid="own-alarm-coming">
          {ta('whoComing', { n: coming.length, min: v.alarm.min_coming })}:{' '}
          {coming.length ? coming.map((r) => `${r.display_name || r.email}${r.eta_s ? ` (${Math.round(r.eta_s / 60)} min)` : ''}`).join(', ') : ta('nobody')}
        </div>
        {g.state !== 'off' && (
          <small data-testid="own-alarm-geo">
            {g.state === 'ok' ? ta('sosPosOk', { m: g.accuracy ?? 0 }) : g.state === 'denied' || g.state === 'unavailable' ? ta('sosNoPos') : ta('sosPosWait')}
          </small>
        )}
      </div>
      <div class="own-alarm-actions">
        <button class="btn small" data-testid="own-alarm-end" onClick={() => confirm(ta('confirmEnd')) && endAlarm(v.alarm.id, false)}>{ta('endAlarm')}</button>
        <button class="btn small" onClick={() => confirm(ta('confirmFalse')) && endAlarm(v.alarm.id, true)}>{ta('falseAlarm')}</button>
      </div>
    </div>
  );
}

const readSent = new Set<string>();

function PriorityBar() {
  const list = useSignal(pendingPrio);
  const first = list[0];
  useEffect(() => {
    // Shown = read: the sender's receipts learn it.
    for (const e of list.slice(0, 1)) {
      const k = `${e.conv_id}/${e.seq}`;
      if (readSent.has(k)) continue;
      readSent.add(k);
      wa().markPriorityRead(e.conv_id, e.seq).catch(() => readSent.delete(k));
    }
  }, [list]);
  if (!first) return null;
  const ack = async () => {
    try {
      await wa().acknowledge(first.conv_id, first.seq);
    } catch (e) {
      showToast(errMsg(e));
    }
    refreshPriority();
  };
  return (
    <div class={`prio-bar ${first.priority || 'normal'}`} role="alert" data-testid="prio-bar">
      <div class="grow">
        <strong>{first.priority === 'alarm' ? ta('prioAlarm').toUpperCase() + ' · ' : first.priority === 'urgent' ? ta('urgent') + ' · ' : ''}{ta('ackNeeded')}</strong>
        <div class="prio-text"><span class="muted">{first.sender_name}:</span> {first.text}</div>
        {list.length > 1 && <a href="#/alarms">+{list.length - 1}</a>}
      </div>
      <button class="btn primary" data-testid="ack-button" onClick={ack}>{ta('quittieren')}</button>
    </div>
  );
}
