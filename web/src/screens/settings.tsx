import { useState } from 'preact/hooks';
import { w } from '../bridge';
import { t, lang, setLang, type Lang } from '../i18n';
import { useSignal } from '../signal';
import { me, phase, loginNotice, showToast, errMsg } from '../state';
import { Icon } from '../components/icon';
import { PushToggle } from '../alarm/push';

export function Settings() {
  const l = useSignal(lang);
  const m = useSignal(me);
  const [mins, setMins] = useState(Number(localStorage.getItem('wache.autolock') || 5));
  const changeLock = async (v: number) => {
    setMins(v);
    localStorage.setItem('wache.autolock', String(v));
    try { await w().setAutoLock(v); showToast(t('saved')); } catch (e) { showToast(errMsg(e)); }
  };
  const lockNow = async () => {
    await w().lock().catch(() => {});
    phase.set('locked');
  };
  const logout = async () => {
    if (!confirm(t('confirmLogout'))) return;
    try { await w().logout(); } catch (e) { showToast(errMsg(e)); }
    me.set(null);
    loginNotice.set('');
    phase.set('login');
  };
  return (
    <section class="page" aria-labelledby="set-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/" aria-label={t('back')}><Icon name="back" /></a>
        <h1 id="set-h">{t('settings')}</h1>
      </header>
      <div class="form pad">
        {m && (
          <p>
            {t('signedInAs', { name: m.user.display_name, email: m.user.email })}<br />
            <small class="muted">{t('deviceLabel', { name: m.device.name })}</small>
          </p>
        )}
        <label for="set-lang">{t('language')}</label>
        <select id="set-lang" value={l} onChange={(e) => setLang(e.currentTarget.value as Lang)}>
          <option value="de">Deutsch</option>
          <option value="en">English</option>
        </select>
        <label for="set-lock">{t('autoLock')}</label>
        <select id="set-lock" value={String(mins)} onChange={(e) => changeLock(Number(e.currentTarget.value))}>
          {[1, 5, 15, 30, 60].map((n) => (
            <option key={n} value={String(n)}>{n === 1 ? t('minute') : t('minutes', { n })}</option>
          ))}
        </select>
        <PushToggle />
        <button class="btn" onClick={lockNow}><Icon name="lock" /> {t('lockNow')}</button>
        <button class="btn danger" onClick={logout}>{t('logout')}</button>
      </div>
    </section>
  );
}
