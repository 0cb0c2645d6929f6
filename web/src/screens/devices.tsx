import { useEffect, useState } from 'preact/hooks';
import type { Device } from '../api';
import { w } from '../bridge';
import { t, fmtTime } from '../i18n';
import { handleFatal, errMsg, showToast } from '../state';
import { Icon } from '../components/icon';

export function Devices() {
  const [list, setList] = useState<Device[] | null>(null);
  const load = () => w().devices().then(setList).catch((e) => { if (!handleFatal(e)) showToast(errMsg(e)); });
  useEffect(() => { load(); }, []);
  const revoke = async (d: Device) => {
    if (!confirm(t('confirmRevoke', { name: d.name }))) return;
    try { await w().revokeDevice(d.id); await load(); } catch (e) { if (!handleFatal(e)) showToast(errMsg(e)); }
  };
  return (
    <section class="page" aria-labelledby="dev-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/" aria-label={t('back')}><Icon name="back" /></a>
        <h1 id="dev-h">{t('devices')}</h1>
      </header>
      {!list ? <p class="muted pad">{t('loading')}</p> : (
        <ul class="rows pad" data-testid="devices">
          {list.map((d) => (
            <li key={d.id} class={d.revoked_at ? 'revoked' : ''}>
              <span class="dev-icon" aria-hidden="true"><Icon name="device" /></span>
              <span class="grow">
                <strong>{d.name}</strong> {d.current && <span class="tag ok">{t('thisDevice')}</span>}
                {d.revoked_at && <span class="tag bad">{t('revoked')}</span>}
                <br />
                <small class="muted">{t('created')}: {fmtTime(d.created_at)} · {t('lastSeen')}: {fmtTime(d.last_seen_at)}</small>
              </span>
              {!d.current && !d.revoked_at && (
                <button class="btn small danger" onClick={() => revoke(d)} aria-label={`${t('revoke')}: ${d.name}`}>{t('revoke')}</button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
