// The "Alarme" screen (SOS button, own and others' alarms; for the role
// dispatcher the Leitstelle view of every active alarm with positions,
// responders and timeline), priority messages, and the receipts view.
import { useEffect, useState } from 'preact/hooks';
import { useSignal } from '../signal';
import { w } from '../bridge';
import { fmtTime } from '../i18n';
import { showToast, errMsg, handleFatal } from '../state';
import { Icon } from '../components/icon';
import type { ChatSummary } from '../api';
import { ta } from './i18n';
import { wa, onAlarm, isActive, type AlarmView, type PriorityEntry, type Receipts } from './api';
import { alarmViews, pendingPrio, refreshAlarms, refreshPriority, isDispatcher } from './state';
import { AlarmCard, hms } from './card';
import { SOSButton } from './sosbutton';

export function AlarmsScreen() {
  const views = useSignal(alarmViews);
  const [all, setAll] = useState(false);
  const [ended, setEnded] = useState<AlarmView[]>([]);
  const [note, setNote] = useState('');
  const dispatcher = isDispatcher();
  useEffect(() => {
    refreshAlarms();
    refreshPriority();
  }, []);
  useEffect(() => {
    if (!all) return;
    const load = () => wa().alarms({ all: true }).then((l) => setEnded(l.filter((v) => !isActive(v.alarm)))).catch(() => {});
    load();
    return onAlarm('alarm', () => load());
  }, [all]);
  const active = views.filter((v) => isActive(v.alarm));
  const mine = active.find((v) => v.mine);
  return (
    <section class="page alarms-page" aria-labelledby="al-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/" aria-label={ta('alarms')}><Icon name="back" /></a>
        <h1 id="al-h">{dispatcher ? ta('dispatchTitle') : ta('alarms')}</h1>
        <button class="btn small" onClick={() => refreshAlarms()} aria-label={ta('refresh')}>↻</button>
      </header>
      <div class="pad alarms-body">
        {!dispatcher && !mine && (
          <div class="sos-panel">
            <SOSButton note={() => note} />
            <label for="sos-note" class="sr-only">{ta('sosNote')}</label>
            <input id="sos-note" maxLength={200} placeholder={ta('sosNote')} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </div>
        )}
        <PendingAcks />
        <div data-testid="alarm-list" class="alarm-list">
          {active.length === 0 && <p class="muted" data-testid="no-alarms">{ta('noAlarms')}</p>}
          {active.map((v) => <AlarmCard key={v.alarm.id} v={v} dispatch={dispatcher} />)}
        </div>
        <label class="check"><input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} /> {ta('showEnded')}</label>
        {all && ended.map((v) => <AlarmCard key={v.alarm.id} v={v} dispatch={dispatcher} />)}
        <PriorityCompose />
        <MyPriority />
      </div>
    </section>
  );
}

function PendingAcks() {
  const list = useSignal(pendingPrio);
  if (!list.length) return null;
  return (
    <section aria-labelledby="pa-h" class="card-list">
      <h2 id="pa-h">{ta('ackNeeded')}</h2>
      <ul class="plain">
        {list.map((e) => <PrioItem key={`${e.conv_id}/${e.seq}`} e={e} />)}
      </ul>
    </section>
  );
}

function PrioItem({ e }: { e: PriorityEntry }) {
  const ack = async () => {
    try {
      await wa().acknowledge(e.conv_id, e.seq);
      refreshPriority();
    } catch (err) {
      if (!handleFatal(err)) showToast(errMsg(err));
    }
  };
  return (
    <li class={`prio-item ${e.priority || 'normal'}`} data-testid="prio-item">
      <div class="grow">
        <strong>{e.priority === 'urgent' ? ta('urgent') + ' · ' : e.priority === 'alarm' ? ta('prioAlarm').toUpperCase() + ' · ' : ''}{e.sender_name}</strong>
        <span class="muted"> · {fmtTime(e.time)}</span>
        <div>{e.text}</div>
      </div>
      {e.ack_required && !e.mine && !e.acknowledged_at && <button class="btn primary small" onClick={ack}>{ta('quittieren')}</button>}
      {e.acknowledged_at && <span class="tag ok">{ta('acked')}</span>}
    </li>
  );
}

function PriorityCompose() {
  const [chats, setChats] = useState<ChatSummary[]>([]);
  const [conv, setConv] = useState('');
  const [text, setText] = useState('');
  const [prio, setPrio] = useState<'' | 'urgent' | 'alarm'>('urgent');
  const [ack, setAck] = useState(true);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    w().chats().then((l) => {
      setChats(l);
      if (l.length && !conv) setConv(l[0].id);
    }).catch(() => {});
  }, []);
  const send = async (e: Event) => {
    e.preventDefault();
    if (!conv || !text.trim()) return;
    setBusy(true);
    try {
      await wa().sendPriority(conv, { text: text.trim(), priority: prio, ackRequired: ack });
      setText('');
      showToast(ta('prioSent'));
    } catch (err) {
      if (!handleFatal(err)) showToast(errMsg(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form prio-form" onSubmit={send} aria-labelledby="pc-h" data-testid="prio-form">
      <h2 id="pc-h">{ta('prioTitle')}</h2>
      <label for="prio-chat">{ta('prioChat')}</label>
      <select id="prio-chat" value={conv} onChange={(e) => setConv(e.currentTarget.value)}>
        {chats.map((c) => <option value={c.id}>{c.name}</option>)}
      </select>
      <label for="prio-text">{ta('prioText')}</label>
      <textarea id="prio-text" rows={2} maxLength={4000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <label for="prio-level">{ta('prioLevel')}</label>
      <select id="prio-level" value={prio} onChange={(e) => setPrio(e.currentTarget.value as '' | 'urgent' | 'alarm')}>
        <option value="">{ta('prioNormal')}</option>
        <option value="urgent">{ta('prioUrgent')}</option>
        <option value="alarm">{ta('prioAlarm')}</option>
      </select>
      <label class="check"><input id="prio-ack" type="checkbox" checked={ack} onChange={(e) => setAck(e.currentTarget.checked)} /> {ta('prioAck')}</label>
      <button class="btn primary" type="submit" disabled={busy || !conv}>{ta('prioSend')}</button>
    </form>
  );
}

function MyPriority() {
  const [list, setList] = useState<PriorityEntry[]>([]);
  useEffect(() => {
    const load = () => wa().priorityMessages({}).then((l) => setList(l.filter((e) => e.mine))).catch(() => {});
    load();
    const off1 = onAlarm('priority', load);
    const t = setInterval(load, 3000); // own messages learn their number once sent
    return () => { off1(); clearInterval(t); };
  }, []);
  if (!list.length) return null;
  return (
    <section aria-labelledby="mp-h">
      <h2 id="mp-h">{ta('prioMine')}</h2>
      <ul class="plain" data-testid="my-prio">
        {list.map((e) => (
          <li class={`prio-item ${e.priority || 'normal'}`}>
            <div class="grow">
              <span class="muted">{fmtTime(e.time)}</span> {e.text}
            </div>
            {e.seq > 0 && e.ack_required
              ? <a class="btn small" data-testid="receipts-link" href={`#/receipts/${encodeURIComponent(e.conv_id)}/${e.seq}`}>{ta('receipts')}</a>
              : !e.seq && <small class="muted">{ta('waiting')}</small>}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function ReceiptsScreen({ conv, seq }: { conv: string; seq: number }) {
  const [rs, setRs] = useState<Receipts | null>(null);
  const [pending, setPending] = useState(false);
  const [err, setErr] = useState('');
  const load = () => wa().receipts(conv, seq, { pending }).then((r) => { setRs(r); setErr(''); }).catch((e) => { if (!handleFatal(e)) setErr(errMsg(e)); });
  useEffect(() => {
    load();
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [conv, seq, pending]);
  const close = async () => {
    try { await wa().closeAck(conv, seq); load(); } catch (e) { showToast(errMsg(e)); }
  };
  const bar = (n: number) => <progress max={Math.max(1, rs?.recipients ?? 1)} value={n} />;
  return (
    <section class="page" aria-labelledby="rc-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/alarms" aria-label={ta('alarms')}><Icon name="back" /></a>
        <h1 id="rc-h">{ta('receiptsTitle', { seq })}</h1>
      </header>
      <div class="pad" data-testid="receipts">
        {err && <p class="error" role="alert">{err}</p>}
        {rs && (
          <>
            <dl class="receipt-counts">
              <dt>{ta('recipients')}</dt><dd data-testid="rc-recipients">{rs.recipients}</dd>
              <dt>{ta('delivered')}</dt><dd><span data-testid="rc-delivered">{rs.delivered}</span> {bar(rs.delivered)}</dd>
              <dt>{ta('read')}</dt><dd><span data-testid="rc-read">{rs.read}</span> {bar(rs.read)}</dd>
              <dt>{ta('acknowledged')}</dt><dd><span data-testid="rc-acknowledged">{rs.acknowledged}</span> {bar(rs.acknowledged)}</dd>
            </dl>
            {rs.closed_at && <p class="muted">{ta('closedAt', { time: fmtTime(rs.closed_at) })}</p>}
            <label class="check"><input type="checkbox" checked={pending} onChange={(e) => setPending(e.currentTarget.checked)} /> {ta('pendingOnly')}</label>
            <table class="receipt-table">
              <thead><tr><th scope="col">{ta('member')}</th><th scope="col">{ta('delivered')}</th><th scope="col">{ta('read')}</th><th scope="col">{ta('acknowledged')}</th></tr></thead>
              <tbody>
                {rs.members.map((m) => (
                  <tr data-testid="rc-member">
                    <th scope="row">{m.display_name || m.email}</th>
                    <td>{m.delivered_at ? hms(m.delivered_at) : '—'}</td>
                    <td>{m.read_at ? hms(m.read_at) : '—'}</td>
                    <td>{m.acknowledged_at ? hms(m.acknowledged_at) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {!rs.closed_at && <button class="btn" onClick={close}>{ta('closeAck')}</button>}
          </>
        )}
      </div>
    </section>
  );
}
