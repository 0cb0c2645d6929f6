import { useEffect, useState } from 'preact/hooks';
import type { ChatSummary } from '../api';
import { w, on } from '../bridge';
import { t, fmtTime } from '../i18n';
import { useSignal } from '../signal';
import { me, handleFatal } from '../state';
import { Icon } from '../components/icon';

export function ChatList({ activeId }: { activeId: string }) {
  const [chats, setChats] = useState<ChatSummary[] | null>(null);
  const m = useSignal(me);
  useEffect(() => {
    let alive = true;
    const load = () =>
      w().chats().then((c) => alive && setChats(c)).catch((e) => { handleFatal(e); alive && setChats((x) => x ?? []); });
    // Bursts of events (a backlog after reconnecting, live positions) cause
    // one reload, not one per event.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const soon = () => {
      if (!timer) timer = setTimeout(() => { timer = undefined; load(); }, 250);
    };
    load();
    const off1 = on('chats', soon);
    const off2 = on('message', soon);
    return () => { alive = false; clearTimeout(timer); off1(); off2(); };
  }, []);
  return (
    <section class="chatlist" aria-labelledby="chats-h">
      <header class="bar">
        <h1 id="chats-h">{t('chats')}</h1>
        {m && <span class="who" title={m.user.email}>{m.user.display_name}</span>}
        <a class="btn icon-btn" href="#/new" aria-label={t('newChat')}><Icon name="plus" /></a>
      </header>
      {chats === null ? (
        <p class="muted pad" role="status">{t('loading')}</p>
      ) : chats.length === 0 ? (
        <p class="muted pad">{t('noChats')}</p>
      ) : (
        <ul class="chats" data-testid="chat-list">
          {chats.map((c) => (
            <li key={c.id}>
              <a href={`#/chat/${encodeURIComponent(c.id)}`} class={c.id === activeId ? 'active' : ''}
                aria-current={c.id === activeId ? 'true' : undefined}
                aria-label={`${c.name}${c.unread ? ', ' + t('unread', { n: c.unread }) : ''}`}>
                <span class={`avatar ${c.kind}`} aria-hidden="true">{initials(c.name)}</span>
                <span class="chat-main">
                  <span class="chat-name">{c.name}</span>
                  <span class="chat-last">
                    {c.last ? `${c.last.sender_name}: ${c.last.preview}` : t('membersCount', { n: c.members })}
                  </span>
                </span>
                <span class="chat-meta">
                  {c.last && <time class="chat-time" dateTime={c.last.time}>{fmtTime(c.last.time)}</time>}
                  {c.unread > 0 && <span class="badge" data-testid="unread">{c.unread}</span>}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function initials(name: string): string {
  const parts = name.replace(/@.*/, '').split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}
