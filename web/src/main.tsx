import { render } from 'preact';
import { App } from './app';
import { lang } from './i18n';
import './styles.css';

document.documentElement.lang = lang.get();
render(<App />, document.getElementById('app')!);

// The service worker caches the app shell so the app starts without a
// network; it is skipped in the dev server.
if ('serviceWorker' in navigator && !import.meta.env.DEV) {
  addEventListener('load', () => {
    navigator.serviceWorker.register('sw.js').catch((e) => console.warn('service worker', e));
  });
}
