import { useEffect } from 'preact/hooks';
import { loadBridge, on, w, loadProgress } from './bridge';
import { t, lang } from './i18n';
import { useSignal } from './signal';
import { phase, lockedEmail, loginNotice, connection, me, toast, route, handleFatal, errMsg, showToast } from './state';
import { Login } from './screens/login';
import { Unlock } from './screens/unlock';
import { Corrupt } from './screens/corrupt';
import { ChatList } from './screens/chatlist';
import { Chat } from './screens/chat';
import { NewChat } from './screens/newchat';
import { Members } from './screens/members';
import { Devices } from './screens/devices';
import { Settings } from './screens/settings';
import { Auskunft } from './screens/auskunft';
import { Scanner } from './screens/scanner';
import { Banner } from './components/banner';
import { Icon } from './components/icon';
import { AlarmLayer } from './alarm/layer';
import { AlarmsScreen, ReceiptsScreen } from './alarm/screens';
import { ta } from './alarm/i18n';

export async function boot() {
  phase.set('loading');
  try {
    const b = await loadBridge();
    const r = await b.init({ server: location.origin });
    subscribe();
    const mins = Number(localStorage.getItem('wache.autolock') || 5);
    await b.setAutoLock(mins).catch(() => {});
    // Time to interactive for docs/design/webapp.md: the first screen the user can act on.
    performance.mark('wache-interactive');
    if (r.state === 'new') phase.set('login');
    else if (r.state === 'locked') {
      lockedEmail.set(r.email || '');
      phase.set('locked');
    } else await enterMain();
  } catch (e) {
    if (handleFatal(e)) return;
    console.error(e);
    phase.set('loadError');
  }
}

let subscribed = false;
function subscribe() {
  if (subscribed) return;
  subscribed = true;
  on('connection', (e) => connection.set(e));
  on('locked', () => {
    if (phase.get() === 'main') phase.set('locked');
  });
  on('revoked', () => {
    me.set(null);
    loginNotice.set('sessionEnded');
    phase.set('login');
  });
  on('error', (e) => {
    if (e.code === 'ECORRUPT') phase.set('corrupt');
    else if (e.code === 'EREVOKED' || e.code === 'EUNAUTHORIZED') {
      me.set(null);
      loginNotice.set('sessionEnded');
      phase.set('login');
    } else showToast(e.message);
  });
}

export async function enterMain() {
  try {
    const m = await w().me();
    me.set(m);
    lockedEmail.set(m.user.email);
    phase.set('main');
  } catch (e) {
    if (!handleFatal(e)) {
      showToast(errMsg(e));
      phase.set('main');
    }
  }
}

function Loading() {
  const p = useSignal(loadProgress);
  return (
    <main class="center-screen" aria-busy="true">
      <div class="logo-big" aria-hidden="true"><Icon name="shield" /></div>
      <h1>{t('appName')}</h1>
      <p role="status">{t('loading')}</p>
      {isNaN(p) ? <progress aria-label={t('loading')} /> : <progress max={1} value={p} aria-label={t('loading')} />}
    </main>
  );
}

function LoadError() {
  return (
    <main class="center-screen">
      <h1>{t('appName')}</h1>
      <p role="alert">{t('loadFailed')}</p>
      <button class="btn primary" onClick={() => location.reload()}>{t('retry')}</button>
    </main>
  );
}

function Nav({ path }: { path: string }) {
  const item = (href: string, icon: string, label: string, active: boolean) => (
    <a href={`#${href}`} class={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
      <Icon name={icon} />
      <span>{label}</span>
    </a>
  );
  return (
    <nav class="tabbar" aria-label={t('mainNav')}>
      {item('/', 'chat', t('chats'), path === '/' || path.startsWith('/chat'))}
      {item('/new', 'plus', t('newChat'), path === '/new')}
      {item('/auskunft', 'search', t('auskunft'), path === '/auskunft')}
      {item('/scan', 'camera', t('scanner'), path === '/scan')}
      {item('/alarms', 'alert', ta('alarms'), path === '/alarms' || path.startsWith('/receipts'))}
      {item('/devices', 'device', t('devices'), path === '/devices')}
      {item('/settings', 'gear', t('settings'), path === '/settings')}
    </nav>
  );
}

function Main() {
  const path = useSignal(route);
  let content;
  let m: RegExpMatchArray | null;
  if ((m = path.match(/^\/chat\/([^/]+)\/members$/))) content = <Members id={decodeURIComponent(m[1])} />;
  else if ((m = path.match(/^\/chat\/([^/]+)$/))) content = <Chat key={m[1]} id={decodeURIComponent(m[1])} />;
  else if (path === '/new') content = <NewChat />;
  else if (path === '/devices') content = <Devices />;
  else if (path === '/settings') content = <Settings />;
  else if (path === '/auskunft') content = <Auskunft />;
  else if (path === '/scan') content = <Scanner />;
  else if (path === '/alarms') content = <AlarmsScreen />;
  else if ((m = path.match(/^\/receipts\/([^/]+)\/(\d+)$/))) content = <ReceiptsScreen conv={decodeURIComponent(m[1])} seq={Number(m[2])} />;
  else content = null;
  const inChat = path.startsWith('/chat/');
  return (
    <div class={`shell ${content ? 'has-detail' : 'list-only'} ${inChat ? 'in-chat' : ''}`}>
      <a class="skip" href="#content" onClick={(e) => { e.preventDefault(); document.getElementById('content')?.focus(); }}>{t('skip')}</a>
      <Banner />
      <AlarmLayer path={path} />
      <div class="panes">
        <aside class="list-pane">
          <ChatList activeId={inChat ? decodeURIComponent(path.split('/')[2]) : ''} />
        </aside>
        <main class="detail-pane" id="content" tabIndex={-1}>
          {content ?? <p class="placeholder">{t('selectChat')}</p>}
        </main>
      </div>
      <Nav path={path} />
    </div>
  );
}

function Toast() {
  const msg = useSignal(toast);
  return (
    <div class="toast-wrap" role="status" aria-live="polite">
      {msg && (
        <div class="toast">
          <span>{msg}</span>
          <button class="btn small" onClick={() => toast.set('')}>{t('dismiss')}</button>
        </div>
      )}
    </div>
  );
}

export function App() {
  const p = useSignal(phase);
  useSignal(lang); // re-render on language change
  useSignal(loginNotice);
  useEffect(() => {
    boot();
  }, []);
  let screen;
  switch (p) {
    case 'loading': screen = <Loading />; break;
    case 'loadError': screen = <LoadError />; break;
    case 'login': screen = <Login />; break;
    case 'locked': screen = <Unlock />; break;
    case 'corrupt': screen = <Corrupt />; break;
    default: screen = <Main />;
  }
  return (
    <>
      {screen}
      <Toast />
    </>
  );
}
