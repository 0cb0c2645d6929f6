import { useState } from 'preact/hooks';
import { w } from '../bridge';
import { t } from '../i18n';
import { errCode } from '../api';
import { useSignal } from '../signal';
import { lockedEmail, handleFatal, errMsg, loginNotice, phase } from '../state';
import { enterMain } from '../app';
import { Icon } from '../components/icon';

export function Unlock() {
  const email = useSignal(lockedEmail);
  const [pin, setPin] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr('');
    setBusy(true);
    try {
      await w().unlock(pin);
      setPin('');
      await enterMain();
    } catch (x) {
      const c = errCode(x);
      if (c === 'ECORRUPT' || c === 'EREVOKED') handleFatal(x);
      else setErr(c === 'EINVALID' || c === 'EUNAUTHORIZED' || c === 'ELOCKED' ? t('wrongPin') : errMsg(x));
    } finally {
      setBusy(false);
    }
  };
  // Without the PIN the local data cannot be opened: the way out is to
  // erase it and enrol the device again.
  const forgot = async () => {
    if (!confirm(t('confirmLogout'))) return;
    await w().logout().catch(() => {});
    loginNotice.set('');
    phase.set('login');
  };
  return (
    <main class="center-screen">
      <div class="logo-big" aria-hidden="true"><Icon name="lock" /></div>
      <h1>{t('unlockTitle')}</h1>
      <form onSubmit={submit} class="card form">
        <p>{email ? t('unlockIntro', { email }) : t('unlockIntroAnon')}</p>
        <label for="unlock-pin">PIN</label>
        <input id="unlock-pin" type="password" autocomplete="current-password" required value={pin}
          onInput={(e) => setPin(e.currentTarget.value)} autoFocus />
        {err && <p class="error" role="alert">{err}</p>}
        <button class="btn primary" type="submit" disabled={busy}>{t('unlock')}</button>
        <button class="btn link" type="button" onClick={forgot}>{t('forgotPin')}</button>
      </form>
    </main>
  );
}
