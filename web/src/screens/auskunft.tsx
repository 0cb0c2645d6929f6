import { useEffect, useRef, useState } from 'preact/hooks';
import type { AuskunftKind, AuskunftQuery, AuskunftResult } from '../api';
import { errCode } from '../api';
import { w } from '../bridge';
import { t, type Key } from '../i18n';
import { signal, useSignal } from '../signal';
import { me, handleFatal, errMsg } from '../state';
import { Icon } from '../components/icon';
import { AkResult } from '../components/akresult';
import { reveal } from '../scanimg';

// The purpose of the last query, kept in memory for the next one (a stop
// usually means several queries for one reason); never stored.
export const lastPurpose = signal<string>('');

// Common purposes offered as suggestions; any text is accepted.
export const purposes = ['Verkehrskontrolle', 'Personenkontrolle', 'Fahndung', 'Unfallaufnahme', 'Ermittlungsverfahren'];

export function PurposeField({ id }: { id: string }) {
  const p = useSignal(lastPurpose);
  return (
    <>
      <label for={id}>{t('akPurpose')}</label>
      <input id={id} value={p} list={`${id}-list`} aria-required="true" maxLength={500} autocomplete="off"
        onInput={(e) => lastPurpose.set(e.currentTarget.value)} />
      <datalist id={`${id}-list`}>{purposes.map((x) => <option key={x} value={x} />)}</datalist>
      <p class="hint">{t('akPurposeHint')}</p>
    </>
  );
}

// runQuery asks the server through the bridge; errors come back as the
// bridge's German-first message (rate limit, purpose, role).
export async function runQuery(q: Omit<AuskunftQuery, 'purpose'>): Promise<AuskunftResult> {
  const purpose = lastPurpose.get().trim();
  if (!purpose) throw new Error(t('akPurposeMissing'));
  return w().auskunft({ ...q, purpose });
}

// akError puts the server's refusals of a query in the officer's words;
// the bridge's German-first message stays as the detail.
export function akError(e: unknown): string {
  const msg = errMsg(e);
  switch (errCode(e)) {
    case 'ERATELIMIT': return `${t('akRateLimit')} (${msg})`;
    case 'EFORBIDDEN': return `${t('akForbidden')} (${msg})`;
    case 'EINVALID': return /purpose/i.test(msg) ? `${t('akPurposeInvalid')} (${msg})` : msg;
  }
  return msg;
}

const kinds: { k: AuskunftKind; label: Key; field: Key }[] = [
  { k: 'plate', label: 'akPlate', field: 'akPlateField' },
  { k: 'person', label: 'akPerson', field: 'akSurname' },
  { k: 'document', label: 'akDocument', field: 'akDocumentField' },
  { k: 'vin', label: 'akVin', field: 'akVinField' },
];

export function Auskunft() {
  const m = useSignal(me);
  const [kind, setKind] = useState<AuskunftKind>('plate');
  const [text, setText] = useState('');
  const [surname, setSurname] = useState('');
  const [given, setGiven] = useState('');
  const [dob, setDob] = useState('');
  const [full, setFull] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [res, setRes] = useState<AuskunftResult | null>(null);
  const dispatcher = !!m?.user.roles?.includes('dispatcher');
  const out = useRef<HTMLDivElement>(null);
  // On a phone the verdict would sit below the form: bring it up.
  useEffect(() => { if (res) reveal(out.current); }, [res]);

  const run = async (q: Omit<AuskunftQuery, 'purpose'>) => {
    setErr('');
    setRes(null);
    setBusy(true);
    try {
      setRes(await runQuery({ ...q, mode: full && dispatcher ? 'full' : 'wanted' }));
    } catch (e) {
      if (!handleFatal(e)) setErr(akError(e));
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    if (kind === 'person') {
      if (!surname.trim()) return setErr(t('akTextMissing'));
      run({ kind, surname: surname.trim(), given: given.trim() || undefined, dob: dob || undefined });
    } else {
      if (!text.trim()) return setErr(t('akTextMissing'));
      run({ kind, text: text.trim() });
    }
  };
  const k = kinds.find((x) => x.k === kind)!;
  return (
    <section class="page ak-page" aria-labelledby="ak-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/" aria-label={t('back')}><Icon name="back" /></a>
        <h1 id="ak-h">{t('auskunft')}</h1>
      </header>
      <form class="form pad ak-form" onSubmit={submit} aria-busy={busy}>
        <fieldset class="seg" role="radiogroup" aria-label={t('akKind')}>
          <legend class="sr-only">{t('akKind')}</legend>
          {kinds.map((x) => (
            <label key={x.k} class={kind === x.k ? 'on' : ''}>
              <input type="radio" name="ak-kind" value={x.k} checked={kind === x.k}
                onChange={() => { setKind(x.k); setErr(''); setRes(null); }} />
              {t(x.label)}
            </label>
          ))}
        </fieldset>
        {kind === 'person' ? (
          <>
            <label for="ak-surname">{t('akSurname')}</label>
            <input id="ak-surname" value={surname} autocomplete="off" autocapitalize="characters" maxLength={200}
              onInput={(e) => setSurname(e.currentTarget.value)} />
            <label for="ak-given">{t('akGiven')}</label>
            <input id="ak-given" value={given} autocomplete="off" maxLength={200} onInput={(e) => setGiven(e.currentTarget.value)} />
            <label for="ak-dob">{t('akDob')}</label>
            <input id="ak-dob" type="date" value={dob} onInput={(e) => setDob(e.currentTarget.value)} />
          </>
        ) : (
          <>
            <label for="ak-text">{t(k.field)}</label>
            <input id="ak-text" value={text} autocomplete="off" autocapitalize="characters" spellcheck={false} maxLength={100}
              onInput={(e) => setText(e.currentTarget.value)} />
          </>
        )}
        <PurposeField id="ak-purpose" />
        {dispatcher && (
          <label class="radio"><input type="checkbox" checked={full} onChange={(e) => setFull(e.currentTarget.checked)} /> {t('akFull')}</label>
        )}
        {err && <p class="error" role="alert" data-testid="ak-error">{err}</p>}
        <button class="btn primary" type="submit" disabled={busy}>{busy ? t('akQuerying') : t('akQuery')}</button>
      </form>
      {res && (
        <div class="pad ak-out" ref={out}>
          <AkResult r={res} onPlate={(p) => { setKind('plate'); setText(p); run({ kind: 'plate', text: p }); }} />
        </div>
      )}
    </section>
  );
}
