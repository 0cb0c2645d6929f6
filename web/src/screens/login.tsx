import { useState } from 'preact/hooks';
import { w } from '../bridge';
import { t } from '../i18n';
import { errCode } from '../api';
import { useSignal } from '../signal';
import { loginNotice, errMsg } from '../state';
import { enterMain } from '../app';
import { Icon } from '../components/icon';

export function Login() {
  const notice = useSignal(loginNotice);
  const [email, setEmail] = useState('');
  const [step, setStep] = useState<'email' | 'code'>('email');
  const [code, setCode] = useState('');
  const [device, setDevice] = useState(t('defaultDeviceName') + ' ' + (navigator.platform || ''));
  const [pin, setPin] = useState('');
  const [pin2, setPin2] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);

  const request = async (e: Event) => {
    e.preventDefault();
    setErr('');
    setBusy(true);
    try {
      await w().requestCode(email.trim());
      setStep('code');
    } catch (x) {
      setErr(errMsg(x));
    } finally {
      setBusy(false);
    }
  };
  const verify = async (e: Event) => {
    e.preventDefault();
    setErr('');
    if (pin.length < 6) return setErr(t('pinTooShort'));
    if (pin !== pin2) return setErr(t('pinMismatch'));
    setBusy(true);
    try {
      await w().verify({ email: email.trim(), code: code.trim(), deviceName: device.trim() || 'Browser', pin });
      loginNotice.set('');
      await enterMain();
    } catch (x) {
      const c = errCode(x);
      setErr(c === 'EINVALID' || c === 'EUNAUTHORIZED' || c === 'EEXPIRED' ? t('wrongCode') : errMsg(x));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="center-screen login">
      <div class="logo-big" aria-hidden="true"><Icon name="shield" /></div>
      <h1>{t('appName')}</h1>
      <h2>{t('loginTitle')}</h2>
      {notice && <p class="notice" role="alert" data-testid="login-notice">{t(notice as 'sessionEnded')}</p>}
      {step === 'email' ? (
        <form onSubmit={request} class="card form">
          <p>{t('loginIntro')}</p>
          <label for="email">{t('email')}</label>
          <input id="email" name="email" type="email" autocomplete="username" required value={email}
            onInput={(e) => setEmail(e.currentTarget.value)} placeholder="vorname.nachname@polizei.example" />
          {err && <p class="error" role="alert">{err}</p>}
          <button class="btn primary" type="submit" disabled={busy}>{t('requestCode')}</button>
        </form>
      ) : (
        <form onSubmit={verify} class="card form">
          <p role="status">{t('codeSent', { email })}</p>
          <label for="code">{t('code')}</label>
          <input id="code" name="code" inputMode="numeric" autocomplete="one-time-code" pattern="[0-9]*" maxLength={6} required
            value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          <label for="device">{t('deviceName')}</label>
          <input id="device" name="device" value={device} maxLength={64} onInput={(e) => setDevice(e.currentTarget.value)} />
          <label for="pin">{t('pin')}</label>
          <input id="pin" name="pin" type="password" autocomplete="new-password" minLength={6} required value={pin}
            onInput={(e) => setPin(e.currentTarget.value)} aria-describedby="pin-hint" />
          <label for="pin2">{t('pinRepeat')}</label>
          <input id="pin2" name="pin2" type="password" autocomplete="new-password" minLength={6} required value={pin2}
            onInput={(e) => setPin2(e.currentTarget.value)} />
          <p id="pin-hint" class="hint">{t('pinHint')}</p>
          {err && <p class="error" role="alert" data-testid="login-error">{err}</p>}
          <button class="btn primary" type="submit" disabled={busy}>{t('signIn')}</button>
          <button class="btn link" type="button" onClick={() => { setStep('email'); setErr(''); }}>{t('otherEmail')}</button>
        </form>
      )}
    </main>
  );
}
