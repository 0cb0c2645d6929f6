// One alarm: state, raiser, note, last position on the offline map, who is
// coming, timeline, and the actions this user has (answer, end).
import { useState } from 'preact/hooks';
import { OfflineMap } from '../components/map';
import { fmtTime, lang } from '../i18n';
import { Icon } from '../components/icon';
import { ta, hasKey } from './i18n';
import { isActive, wa, type AlarmView } from './api';
import { respond, endAlarm, isDispatcher } from './state';
import { showToast, errMsg } from '../state';

export function stateLabel(s: string) {
  const k = `state_${s}`;
  return hasKey(k) ? ta(k) : s;
}

export function hms(iso: string) {
  const d = new Date(iso);
  return isNaN(d.getTime()) ? '' : d.toLocaleTimeString(lang.get() === 'de' ? 'de-DE' : 'en-GB');
}

function evLabel(e: string) {
  const k = `ev_${e}`;
  return hasKey(k) ? ta(k) : e;
}

export function Responders({ v }: { v: AlarmView }) {
  const coming = v.alarm.responses.filter((r) => r.response === 'coming');
  const cannot = v.alarm.responses.filter((r) => r.response === 'cannot');
  return (
    <div class="responders">
      <p data-testid="alarm-coming">
        <strong>{ta('whoComing', { n: coming.length, min: v.alarm.min_coming })}:</strong>{' '}
        {coming.length ? coming.map((r) => `${r.display_name || r.email}${r.eta_s ? ` (ETA ${Math.round(r.eta_s / 60)} min)` : ''}`).join(', ') : ta('nobody')}
      </p>
      {cannot.length > 0 && (
        <p><strong>{ta('whoCannot')}:</strong> {cannot.map((r) => r.display_name || r.email).join(', ')}</p>
      )}
    </div>
  );
}

export function AnswerButtons({ v, big }: { v: AlarmView; big?: boolean }) {
  const [eta, setEta] = useState(5);
  const id = `eta-${v.alarm.id}`;
  return (
    <div class={`answer ${big ? 'big' : ''}`}>
      <label for={id}>{ta('eta')}</label>
      <select id={id} value={String(eta)} onChange={(e) => setEta(Number(e.currentTarget.value))}>
        {[2, 5, 10, 15, 20, 30].map((n) => <option value={String(n)}>{ta('etaMin', { n })}</option>)}
      </select>
      <button class="btn coming" data-testid="answer-coming" onClick={() => respond(v.alarm.id, 'coming', eta)}>{ta('comingEta')}</button>
      <button class="btn cannot" data-testid="answer-cannot" onClick={() => respond(v.alarm.id, 'cannot', 0)}>{ta('cannot')}</button>
    </div>
  );
}

export function AlarmCard({ v, dispatch }: { v: AlarmView; dispatch?: boolean }) {
  const a = v.alarm;
  const active = isActive(a);
  const who = a.raised_by_name || a.raised_by_email;
  const loc = v.content?.location;
  const mayEnd = active && (v.mine || isDispatcher());
  return (
    <article class={`alarm-card ${a.state}`} data-testid="alarm-card" data-alarm={a.id} data-state={a.state} aria-labelledby={`al-${a.id}`}>
      <header>
        <h2 id={`al-${a.id}`}><Icon name="alert" /> {v.mine ? ta('myAlarm') : who}</h2>
        <span class={`alarm-state ${a.state}`} data-testid="alarm-state">{stateLabel(a.state)}</span>
      </header>
      <p class="muted">
        {ta('raisedAt', { time: fmtTime(a.raised_at) })}
        {a.state === 'raised' && <> · {ta('escalationIn', { time: fmtTime(a.deadline), n: a.min_coming })}</>}
      </p>
      {v.content?.note && <p><strong>{ta('note')}:</strong> {v.content.note}</p>}
      {loc ? (
        <div data-testid="alarm-position">
          <OfflineMap lat={loc.lat} lon={loc.lon} accuracy={loc.accuracy_m || 0} live={active && !v.content?.stopped} />
          <p class="muted small">
            {fmtTime(loc.time)} · {ta('updates', { n: v.content?.updates ?? 0 })}{v.content?.stopped ? ' · ' + ta('liveEnded') : ''}
          </p>
        </div>
      ) : !v.mine && (
        <p class="muted">{v.content ? ta('noPosition') : ta('notDecrypted')}</p>
      )}
      <Responders v={v} />
      {active && !v.mine && !isDispatcher() && (
        v.my_response
          ? <p class="muted">{ta('answered', { r: v.my_response === 'coming' ? ta('answerComing') : ta('answerCannot') })}</p>
          : <AnswerButtons v={v} />
      )}
      {active && !v.mine && isDispatcher() && <NoteButton id={a.id} />}
      {mayEnd && (
        <div class="row left">
          <button class="btn danger" data-testid="alarm-end" onClick={() => confirm(ta('confirmEnd')) && endAlarm(a.id, false)}>{ta('endAlarm')}</button>
          <button class="btn" data-testid="alarm-false" onClick={() => confirm(ta('confirmFalse')) && endAlarm(a.id, true)}>{ta('falseAlarm')}</button>
        </div>
      )}
      {(dispatch || !active) && a.timeline.length > 0 && (
        <details open={dispatch}>
          <summary>{ta('timeline')}</summary>
          <ol class="timeline" data-testid="alarm-timeline">
            {a.timeline.map((e) => (
              <li>
                <time>{hms(e.at)}</time> {evLabel(e.event)} · {e.by ? (v.names[e.by] || e.by.slice(0, 8)) : ta('server')}
                {e.detail ? ` · ${e.detail}` : ''}
              </li>
            ))}
          </ol>
        </details>
      )}
    </article>
  );
}

// Dispatch confirms it has seen the alarm (the server stops reminding);
// remembered for this page's lifetime, the server's answer is idempotent.
const noted = new Set<string>();
function NoteButton({ id }: { id: string }) {
  const [done, setDone] = useState(noted.has(id));
  if (done) return <p class="muted" data-testid="alarm-noted">{ta('noted')}</p>;
  const ack = async () => {
    try {
      await wa().acknowledgeAlarm(id);
      noted.add(id);
      setDone(true);
    } catch (e) {
      showToast(errMsg(e));
    }
  };
  return <button class="btn" data-testid="alarm-note" onClick={ack}>{ta('takenNote')}</button>;
}
