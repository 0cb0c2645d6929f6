import { useEffect, useState } from 'preact/hooks';
import type { ChatDetail } from '../api';
import { w, on } from '../bridge';
import { t } from '../i18n';
import { useSignal } from '../signal';
import { me, handleFatal, errMsg, showToast } from '../state';
import { UserPicker } from '../components/userpicker';
import { Icon } from '../components/icon';

export function roleName(r: string) {
  return r === 'admin' ? t('roleAdmin') : r === 'poster' ? t('rolePoster') : t('roleMember');
}

export function Members({ id }: { id: string }) {
  const [c, setC] = useState<ChatDetail | null>(null);
  const m = useSignal(me);
  const load = () => w().chat(id).then(setC).catch((e) => { if (!handleFatal(e)) showToast(errMsg(e)); });
  useEffect(() => {
    load();
    return on('chats', load);
  }, [id]);
  const admin = c?.role === 'admin';
  const act = async (f: () => Promise<unknown>) => {
    try { await f(); await load(); } catch (e) { if (!handleFatal(e)) showToast(errMsg(e)); }
  };
  return (
    <section class="page" aria-labelledby="members-h">
      <header class="bar">
        <a class="btn icon-btn back" href={`#/chat/${encodeURIComponent(id)}`} aria-label={t('back')}><Icon name="back" /></a>
        <h1 id="members-h">{t('members')}{c ? `: ${c.name}` : ''}</h1>
      </header>
      {!c ? <p class="muted pad">{t('loading')}</p> : (
        <div class="pad">
          <ul class="rows" data-testid="members">
            {c.members.map((mb) => (
              <li key={mb.user_id}>
                <span class="grow">{mb.display_name} <small class="muted">{mb.email}</small></span>
                <span class="tag">{roleName(mb.role)}</span>
                {admin && c.kind !== 'direct' && mb.user_id !== m?.user.id && (
                  <button class="btn small" onClick={() => act(() => w().removeMember(id, mb.email))}
                    aria-label={`${t('remove')}: ${mb.display_name}`}>{t('remove')}</button>
                )}
              </li>
            ))}
          </ul>
          {admin && c.kind !== 'direct' && (
            <UserPicker label={t('addMember')} exclude={c.members.map((x) => x.email)}
              onPick={(u) => act(() => w().addMember(id, u.email))} />
          )}
        </div>
      )}
    </section>
  );
}
