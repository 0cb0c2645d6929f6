import { useState } from 'preact/hooks';
import { w } from '../bridge';
import { t } from '../i18n';
import { loginNotice, phase } from '../state';
import { Icon } from '../components/icon';

// Corrupt is shown when the local store cannot be read: the user chooses to
// erase it and enrol again; nothing is erased without that choice.
export function Corrupt() {
  const [busy, setBusy] = useState(false);
  const reset = async () => {
    setBusy(true);
    try {
      await w().logout();
    } catch {
      // The bridge could not erase its own data (it may not have opened it):
      // drop the database directly.
      await new Promise<void>((resolve) => {
        const r = indexedDB.deleteDatabase('wache');
        r.onsuccess = r.onerror = r.onblocked = () => resolve();
      });
    }
    loginNotice.set('');
    try {
      await w().init({ server: location.origin });
      phase.set('login');
    } catch {
      location.reload();
    }
    setBusy(false);
  };
  return (
    <main class="center-screen">
      <div class="logo-big warn" aria-hidden="true"><Icon name="alert" /></div>
      <h1>{t('corruptTitle')}</h1>
      <div class="card">
        <p role="alert" data-testid="corrupt-message">{t('corruptText')}</p>
        <button class="btn danger" onClick={reset} disabled={busy}>{t('reenrol')}</button>
      </div>
    </main>
  );
}
