// One Auskunft result as an officer at a stop needs it: the verdict
// first (red TREFFER or a plain "Kein Treffer"), officer-safety warnings
// right under it, then the alerts with the action to take, then the
// records. Shown only: nothing here is stored.
import type { AuskunftResult, AuskunftPerson } from '../api';
import { t, fmtTime, lang } from '../i18n';
import { Icon } from './icon';

function personLine(p: AuskunftPerson): string {
  const name = [p.surname, p.given_names].filter(Boolean).join(', ');
  return p.dob ? `${name} (${t('akBorn', { dob: p.dob })})` : name;
}

// Document types of the Auskunft data (internal/auskunft DocumentTypes).
const docTypes: Record<string, [string, string]> = {
  id_card: ['Personalausweis', 'ID card'], passport: ['Reisepass', 'passport'], driving_licence: ['Führerschein', 'driving licence'],
  residence_permit: ['Aufenthaltstitel', 'residence permit'], vehicle_registration: ['Fahrzeugschein', 'vehicle registration'], other: ['Sonstiges', 'other'],
};
const docType = (k: string) => docTypes[k]?.[lang.get() === 'de' ? 0 : 1] ?? k;

export function AkResult({ r, title, onPlate }: { r: AuskunftResult; title?: string; onPlate?: (plate: string) => void }) {
  const holders = new Map(r.persons.map((p) => [p.id, personLine(p)]));
  return (
    <section class="ak-result" aria-label={title ?? t('akResultFor', { what: r.kind })} data-testid="ak-result" data-hit={r.hit ? '1' : '0'}>
      {title && <h2 class="small-h">{title}</h2>}
      {r.hit ? (
        <div class="ak-verdict hit" role="alert" data-testid="ak-hit">
          <Icon name="alert" /> <strong>{t('akHit')}</strong>
          <span>{[...new Set(r.alerts.filter((a) => a.active).map((a) => a.category_label))].join(' · ')}</span>
        </div>
      ) : r.warnings.length === 0 ? (
        <div class="ak-verdict none" role="status" data-testid="ak-nohit">
          <Icon name="check" /> <strong>{t('akNoHit')}</strong>
          <span>{t('akNoHitDetail')}</span>
        </div>
      ) : null}
      {r.warnings.length > 0 && (
        <ul class="ak-warnings" aria-label={t('akSafety')}>
          {r.warnings.map((w, i) => (
            <li key={i} class="ak-warning" role="alert" data-testid="ak-warning">
              <Icon name="shield" /> <strong>{t('akSafety')}: {w.label}</strong>
              <span>{w.person}{w.source ? ` · ${w.source}` : ''}</span>
            </li>
          ))}
        </ul>
      )}
      {r.partial && <p class="notice" role="alert">{t('akPartial', { sources: (r.missing_sources ?? []).join(', ') })}</p>}
      {r.alerts.length > 0 && (
        <>
          <h3 class="small-h">{t('akAlerts')}</h3>
          <ul class="ak-list">
            {r.alerts.map((a) => (
              <li key={a.id} class={`ak-alert ${a.active ? 'active' : ''}`} data-testid="ak-alert">
                <strong>{a.category_label}</strong>: {a.subject_label}
                <br /><span class="muted">{t('akAction')}:</span> {a.action}
                <br /><small class="muted">{t('akAuthority')}: {a.authority}{a.valid_until ? ` · ${a.valid_until}` : ''}{a.source ? ` · ${a.source}` : ''}</small>
              </li>
            ))}
          </ul>
        </>
      )}
      {(r.candidates?.length ?? 0) > 0 && (
        <>
          <h3 class="small-h">{t('akCandidates')}</h3>
          <ul class="ak-cands">
            {r.candidates!.map((c) => (
              <li key={c.plate}>
                {onPlate ? <button class="btn small plate-text" onClick={() => onPlate(c.plate)}>{c.plate}</button> : <span class="plate-text">{c.plate}</span>}
                {c.alert && <span class="tag bad">{t('akCandidateAlert')}</span>}
              </li>
            ))}
          </ul>
          {r.truncated && <p class="hint">{t('akTruncated')}</p>}
        </>
      )}
      {r.persons.length > 0 && (
        <>
          <h3 class="small-h">{t('akPersons')}</h3>
          <ul class="ak-list">
            {r.persons.map((p) => (
              <li key={p.id} data-testid="ak-person">
                <strong>{personLine(p)}</strong>
                {p.nationality && <span class="muted"> · {p.nationality}</span>}
                {p.birth_place && <span class="muted"> · {p.birth_place}</span>}
                {(p.aliases?.length ?? 0) > 0 && <><br /><small class="muted">{p.aliases!.join('; ')}</small></>}
              </li>
            ))}
          </ul>
        </>
      )}
      {r.vehicles.length > 0 && (
        <>
          <h3 class="small-h">{t('akVehicles')}</h3>
          <ul class="ak-list">
            {r.vehicles.map((v) => (
              <li key={v.id} data-testid="ak-vehicle">
                <strong class="plate-text">{v.plate || v.vin}</strong> {[v.make, v.model, v.colour].filter(Boolean).join(' ')}
                {v.plate && v.vin && <><br /><small class="muted">{t('akVin')}: {v.vin}</small></>}
                {v.holder && holders.get(v.holder) && <><br /><small class="muted">{t('akHolder')}: {holders.get(v.holder)}</small></>}
              </li>
            ))}
          </ul>
        </>
      )}
      {r.documents.length > 0 && (
        <>
          <h3 class="small-h">{t('akDocuments')}</h3>
          <ul class="ak-list">
            {r.documents.map((d) => (
              <li key={d.id} data-testid="ak-document">
                <strong>{d.number}</strong> {docType(d.type)}{d.issuing_state ? ` (${d.issuing_state})` : ''}
                {d.expiry && <span class="muted"> · {d.expiry}</span>} {d.expired && <span class="tag bad">{t('akExpired')}</span>}
                {d.holder && holders.get(d.holder) && <><br /><small class="muted">{t('akHolder')}: {holders.get(d.holder)}</small></>}
              </li>
            ))}
          </ul>
        </>
      )}
      <p class="hint">{t('akAuditSeq', { n: r.audit_seq, time: fmtTime(r.at) })}</p>
    </section>
  );
}
