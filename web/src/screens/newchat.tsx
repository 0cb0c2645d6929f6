import { useState } from 'preact/hooks';
import type { User } from '../api';
import { w } from '../bridge';
import { t } from '../i18n';
import { go, handleFatal, errMsg } from '../state';
import { UserPicker } from '../components/userpicker';
import { Icon } from '../components/icon';

export function NewChat() {
  const [kind, setKind] = useState<'direct' | 'group' | 'channel'>('group');
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<User[]>([]);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr('');
    if (picked.length === 0) return setErr(t('needMember'));
    if (kind === 'direct' && picked.length !== 1) return setErr(t('directOne'));
    if (kind !== 'direct' && !name.trim()) return setErr(t('needName'));
    setBusy(true);
    try {
      const c = await w().createChat({ kind, name: kind === 'direct' ? undefined : name.trim(), members: picked.map((u) => u.email) });
      go(`/chat/${encodeURIComponent(c.id)}`);
    } catch (x) {
      if (!handleFatal(x)) setErr(errMsg(x));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="page" aria-labelledby="new-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/" aria-label={t('back')}><Icon name="back" /></a>
        <h1 id="new-h">{t('newChat')}</h1>
      </header>
      <form class="form pad" onSubmit={submit}>
        <fieldset class="kinds">
          <legend>{t('kind')}</legend>
          {(['direct', 'group', 'channel'] as const).map((k) => (
            <label key={k} class="radio">
              <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
              {t(k === 'direct' ? 'kindDirect' : k === 'group' ? 'kindGroup' : 'kindChannel')}
            </label>
          ))}
        </fieldset>
        {kind !== 'direct' && (
          <>
            <label for="chat-name">{t('chatName')}</label>
            <input id="chat-name" value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
          </>
        )}
        <UserPicker label={t('searchUsers')} exclude={picked.map((u) => u.email)}
          onPick={(u) => setPicked(kind === 'direct' ? [u] : [...picked, u])} />
        {picked.length > 0 && (
          <div>
            <h2 class="small-h">{t('selected')}</h2>
            <ul class="picked">
              {picked.map((u) => (
                <li key={u.id}>
                  {u.display_name}
                  <button type="button" class="btn small" aria-label={`${t('remove')}: ${u.display_name}`}
                    onClick={() => setPicked(picked.filter((p) => p.id !== u.id))}><Icon name="close" /></button>
                </li>
              ))}
            </ul>
          </div>
        )}
        {err && <p class="error" role="alert">{err}</p>}
        <button class="btn primary" type="submit" disabled={busy}>{t('create')}</button>
      </form>
    </section>
  );
}
