import { useEffect, useRef, useState } from 'preact/hooks';
import type { AuskunftResult, MRZResult, PlateReading } from '../api';
import { w } from '../bridge';
import { t, lang, type Key } from '../i18n';
import { handleFatal, errMsg } from '../state';
import { errCode } from '../api';
import { Icon } from '../components/icon';
import { AkResult } from '../components/akresult';
import { PurposeField, runQuery, akError } from './auskunft';
import { grayFromFile, nextPaint, reveal } from '../scanimg';

type Mode = 'mrz' | 'plate';
type Phase = 'idle' | 'preparing' | 'reading' | 'done' | 'error';

// Timing of the last scan, for the officer and docs/design/webapp.md.
export interface ScanTiming { prepMs: number; readMs: number; width: number; height: number; srcWidth: number; srcHeight: number }
declare global { interface Window { wacheScanTiming?: ScanTiming } }

// The MRZ fields an officer checks, with the JSON name of their validity.
const mrzRows: { f: keyof MRZResult; label: Key }[] = [
  { f: 'document_number', label: 'scNumber' },
  { f: 'surname', label: 'scSurname' },
  { f: 'given_names', label: 'scGiven' },
  { f: 'birth_date', label: 'scBirth' },
  { f: 'expiry_date', label: 'scExpiry' },
  { f: 'nationality', label: 'scNationality' },
  { f: 'sex', label: 'scSex' },
  { f: 'issuing_state', label: 'scIssuer' },
];
// The recogniser's field problems (internal/scan/mrz) in German; English
// keeps the original text.
const problemsDE: Record<string, string> = {
  'check digit does not match': 'Prüfziffer stimmt nicht',
  'uncertain reading': 'unsichere Lesung',
  'not a calendar date': 'kein gültiges Datum',
  'date holds a non-digit': 'Datum enthält Zeichen, die keine Ziffern sind',
  'partly unknown': 'teilweise unbekannt',
  'expiry date missing': 'Ablaufdatum fehlt',
  'document number missing': 'Dokumentnummer fehlt',
  'name missing or holds digits': 'Name fehlt oder enthält Ziffern',
  'sex must be M, F, X or <': 'Geschlecht muss M, F oder X sein',
  'unknown nationality code': 'unbekannter Staatencode',
  'unknown state code': 'unbekannter Staatencode',
  'document code must start with a letter': 'Dokumentart beginnt nicht mit einem Buchstaben',
};
const problem = (p: string) => (lang.get() === 'de' ? problemsDE[p] ?? p : p);
// Check digits by the field they guard (MRZResult.checks[].field).
const checkLabel: Record<string, Key> = {
  document_number: 'scNumber', birth_date: 'scBirth', expiry_date: 'scExpiry', optional_data: 'scOptional', composite: 'scComposite',
};
// Names share one status ("name").
const statusKey = (f: string) => (f === 'surname' || f === 'given_names' ? 'name' : f);

const editable = new Set<keyof MRZResult>(['document_number', 'surname', 'given_names', 'birth_date']);

export function Scanner() {
  const [mode, setMode] = useState<Mode>('mrz');
  const [phase, setPhase] = useState<Phase>('idle');
  const [err, setErr] = useState('');
  const [mrz, setMRZ] = useState<MRZResult | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [plate, setPlate] = useState<PlateReading | null>(null);
  const [picked, setPicked] = useState('');
  const [timing, setTiming] = useState<ScanTiming | null>(null);
  const [preview, setPreview] = useState('');
  const [querying, setQuerying] = useState(false);
  const [qErr, setQErr] = useState('');
  const [results, setResults] = useState<{ title: string; r: AuskunftResult }[]>([]);
  const input = useRef<HTMLInputElement>(null);
  const readOut = useRef<HTMLDivElement>(null);
  const queryOut = useRef<HTMLDivElement>(null);
  // On a phone the reading and the verdict would sit below the photo.
  useEffect(() => { if (phase === 'done') reveal(readOut.current); }, [phase]);
  useEffect(() => { if (results.length) reveal(queryOut.current); }, [results]);
  useEffect(() => () => { if (preview) URL.revokeObjectURL(preview); }, [preview]);

  const reset = () => {
    setErr(''); setMRZ(null); setPlate(null); setResults([]); setQErr(''); setTiming(null);
  };
  const onFile = async (file: File | undefined) => {
    if (!file) return;
    reset();
    setPreview(URL.createObjectURL(file));
    setPhase('preparing');
    await nextPaint();
    try {
      const t0 = performance.now();
      let img;
      try {
        img = await grayFromFile(file);
      } catch {
        throw new Error(t('scDecodeFailed'));
      }
      const prepMs = Math.round(performance.now() - t0);
      setPhase('reading');
      await nextPaint(); // the spinner runs on the compositor while Go reads
      const t1 = performance.now();
      const r = mode === 'mrz' ? await w().scanMRZ(img) : await w().scanPlate(img);
      const tm = { prepMs, readMs: Math.round(performance.now() - t1), width: img.width, height: img.height, srcWidth: img.srcWidth, srcHeight: img.srcHeight };
      setTiming(tm);
      window.wacheScanTiming = tm;
      if (r.mrz) {
        setMRZ(r.mrz);
        setFields(Object.fromEntries([...editable].map((f) => [f, String(r.mrz![f] ?? '')])));
      }
      if (r.plate) {
        setPlate(r.plate);
        setPicked(r.plate.plate);
      }
      setPhase('done');
    } catch (e) {
      if (handleFatal(e)) return;
      setErr(errCode(e) === 'ENOTFOUND' ? t('scNotFound') : errMsg(e));
      setPhase('error');
    } finally {
      if (input.current) input.current.value = ''; // the same photo again fires change
    }
  };

  const query = async () => {
    setQErr('');
    setResults([]);
    setQuerying(true);
    const out: { title: string; r: AuskunftResult }[] = [];
    try {
      if (mrz) {
        // The document first (exact), then the person by name and birth date.
        if (fields.document_number) out.push({ title: `${t('akDocument')} ${fields.document_number}`, r: await runQuery({ kind: 'document', text: fields.document_number }) });
        if (fields.surname) {
          out.push({
            title: `${t('akPerson')} ${fields.surname}${fields.given_names ? ', ' + fields.given_names : ''}`,
            r: await runQuery({ kind: 'person', surname: fields.surname, given: fields.given_names || undefined, dob: fields.birth_date || undefined }),
          });
        }
      } else if (picked) {
        out.push({ title: `${t('akPlate')} ${picked}`, r: await runQuery({ kind: 'plate', text: picked }) });
      }
      // A hit or a warning in any result goes on top.
      out.sort((a, b) => rank(b.r) - rank(a.r));
    } catch (e) {
      if (!handleFatal(e)) setQErr(akError(e));
    } finally {
      setResults(out);
      setQuerying(false);
    }
  };

  const busy = phase === 'preparing' || phase === 'reading';
  return (
    <section class="page ak-page" aria-labelledby="sc-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/" aria-label={t('back')}><Icon name="back" /></a>
        <h1 id="sc-h">{t('scanner')}</h1>
      </header>
      <div class="form pad">
        <fieldset class="seg" role="radiogroup" aria-label={t('scanner')}>
          <legend class="sr-only">{t('scanner')}</legend>
          {(['mrz', 'plate'] as Mode[]).map((m) => (
            <label key={m} class={mode === m ? 'on' : ''}>
              <input type="radio" name="sc-mode" value={m} checked={mode === m} disabled={busy}
                onChange={() => { setMode(m); reset(); setPhase('idle'); setPreview(''); }} />
              {t(m === 'mrz' ? 'scMRZ' : 'scPlate')}
            </label>
          ))}
        </fieldset>
        <p class="hint">{t(mode === 'mrz' ? 'scHintMRZ' : 'scHintPlate')}</p>
        <label class={`btn primary take ${busy ? 'disabled' : ''}`} for="sc-file">
          <Icon name="camera" /> {phase === 'done' || phase === 'error' ? t('scAgain') : t('scTake')}
        </label>
        <input id="sc-file" ref={input} class="sr-only" type="file" accept="image/*" capture="environment" disabled={busy}
          onChange={(e) => onFile(e.currentTarget.files?.[0])} />
        <p class="hint"><Icon name="lock" /> {t('scLocal')}</p>
        {preview && <img class="sc-preview" src={preview} alt="" />}
        {busy && (
          <div class="sc-busy" role="status" aria-live="polite" data-testid="scan-busy">
            <span class="spinner" aria-hidden="true" />
            {t(phase === 'preparing' ? 'scPreparing' : 'scReading')}
          </div>
        )}
        {err && <p class="error" role="alert" data-testid="scan-error">{err}</p>}
      </div>
      {mrz && (
        <div class="pad sc-result" ref={readOut} data-testid="mrz-result" data-valid={mrz.valid ? '1' : '0'}>
          <div class={`ak-verdict ${mrz.valid ? 'ok' : 'hit'}`} role={mrz.valid ? 'status' : 'alert'}>
            <Icon name={mrz.valid ? 'check' : 'alert'} /> <strong>{mrz.valid ? t('scValid') : t('scInvalid')}</strong>
            <span>{t('scDocType')}: {mrz.document_code} · {mrz.format}</span>
          </div>
          <dl class="mrz-fields">
            {mrzRows.map(({ f, label }) => {
              const st = mrz.fields?.[statusKey(f as string)];
              const bad = st && !st.valid;
              return (
                <div key={f} class={`mrz-row ${bad ? 'bad' : ''}`} data-field={f} data-valid={bad ? '0' : '1'}>
                  <dt id={`mrz-${f}`}>{t(label)}</dt>
                  <dd>
                    {editable.has(f) ? (
                      <input value={fields[f as string] ?? ''} aria-labelledby={`mrz-${f}`} aria-invalid={bad ? 'true' : undefined}
                        onInput={(e) => setFields({ ...fields, [f]: e.currentTarget.value })} />
                    ) : <span class="grow">{String(mrz[f] ?? '')}</span>}
                    <span class={`tag ${bad ? 'bad' : 'ok'}`}>{bad ? `✗ ${t('scFieldBad')}` : `✓ ${t('scFieldOK')}`}</span>
                  </dd>
                  {st?.problem && <dd class={`mrz-problem ${bad ? 'bad' : ''}`}>{problem(st.problem)}</dd>}
                </div>
              );
            })}
          </dl>
          {mrz.checks.some((c) => !c.ok) && (
            <p class="error" data-testid="mrz-failed-checks">
              {t('scFailedChecks')}: {mrz.checks.filter((c) => !c.ok).map((c) => (checkLabel[c.field] ? t(checkLabel[c.field]) : c.field)).join(', ')}
            </p>
          )}
          <pre class="mrz-lines" aria-label="MRZ">{mrz.lines.join('\n')}</pre>
        </div>
      )}
      {plate && (
        <div class="pad sc-result" ref={readOut} data-testid="plate-result">
          <p class="plate-big" aria-live="polite"><span class="plate-text" data-testid="plate-picked">{picked}</span></p>
          {plate.uncertain && <p class="error" role="alert" data-testid="plate-uncertain">{t('scPlateUncertain')}</p>}
          <p class="hint">{t('scReadAs', { text: plate.text })}{plate.candidates.find((c) => c.plate === picked)?.district_name ? ` · ${plate.candidates.find((c) => c.plate === picked)!.district_name}` : ''}</p>
          {plate.candidates.length > 1 && (
            <fieldset class="plate-cands">
              <legend>{t('scPick')}</legend>
              {plate.candidates.map((c) => (
                <label key={c.plate} class={`chip ${picked === c.plate ? 'on' : ''}`} title={c.district_name}>
                  <input type="radio" name="sc-plate" value={c.plate} checked={picked === c.plate} onChange={() => { setPicked(c.plate); setResults([]); }} />
                  <span class="plate-text">{c.plate}</span>
                </label>
              ))}
            </fieldset>
          )}
        </div>
      )}
      {(mrz || plate) && (
        <div class="form pad">
          {timing && <p class="hint" data-testid="scan-timing">{t('scTook', { ms: timing.readMs, w: timing.width, h: timing.height, prep: timing.prepMs })}</p>}
          <PurposeField id="sc-purpose" />
          {qErr && <p class="error" role="alert" data-testid="sc-query-error">{qErr}</p>}
          <button class="btn primary" data-testid="scan-query" disabled={querying} onClick={query}>
            {querying ? t('akQuerying') : t(mrz ? 'scQueryMRZ' : 'scQueryPlate')}
          </button>
        </div>
      )}
      {results.length > 0 && (
        <div class="pad ak-out" ref={queryOut}>
          {results.map((x, i) => <AkResult key={i} r={x.r} title={x.title} />)}
        </div>
      )}
    </section>
  );
}

function rank(r: AuskunftResult): number {
  return (r.hit ? 2 : 0) + (r.warnings.length > 0 ? 1 : 0);
}
