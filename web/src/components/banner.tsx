import { useSignal } from '../signal';
import { connection } from '../state';
import { t } from '../i18n';
import { w } from '../bridge';

// Banner shows the link state; "connect now" asks the bridge to retry at once.
export function Banner() {
  const c = useSignal(connection);
  if (c.state === 'online') return <div class="banner-slot" role="status" aria-live="polite" />;
  const retry = () => {
    const b = w() as unknown as { reconnect?: () => Promise<void> };
    if (b.reconnect) b.reconnect().catch(() => {});
    // The bridge redials at once on the browser's "online" event instead of
    // waiting out its backoff; only say so when the browser is online.
    else if (navigator.onLine) dispatchEvent(new Event('online'));
    connection.set({ state: 'connecting' });
  };
  return (
    <div class="banner-slot" role="status" aria-live="polite">
      <div class={`banner ${c.state}`} data-testid="connection-banner">
        <span>
          {c.state === 'offline' ? t('offline') : t('connecting')}
          {c.state === 'offline' && c.retry_in_s ? ' ' + t('retryIn', { s: Math.ceil(c.retry_in_s) }) : ''}
          {c.state === 'offline' ? ' ' + t('pendingNote') : ''}
        </span>
        {c.state === 'offline' && (
          <button class="btn small" onClick={retry}>{t('retryNow')}</button>
        )}
      </div>
    </div>
  );
}
