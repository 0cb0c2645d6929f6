import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import { w } from '../bridge';
import { t } from '../i18n';

// UserPicker searches colleagues through the bridge and reports a choice.
export function UserPicker({ onPick, exclude, label }: { onPick: (u: User) => void; exclude: string[]; label: string }) {
  const [q, setQ] = useState('');
  const [res, setRes] = useState<User[]>([]);
  useEffect(() => {
    if (q.trim().length < 1) { setRes([]); return; }
    let alive = true;
    const h = setTimeout(() => {
      w().users(q.trim()).then((r) => alive && setRes(r)).catch(() => alive && setRes([]));
    }, 200);
    return () => { alive = false; clearTimeout(h); };
  }, [q]);
  const shown = res.filter((u) => !exclude.includes(u.email));
  return (
    <div class="picker">
      <label for="user-q">{label}</label>
      <input id="user-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} autocomplete="off" />
      {q.trim() && (
        <ul class="results" aria-live="polite">
          {shown.length === 0 && <li class="muted">{t('noResults')}</li>}
          {shown.map((u) => (
            <li key={u.id}>
              <span>{u.display_name} <small class="muted">{u.email}</small></span>
              <button type="button" class="btn small" onClick={() => { onPick(u); setQ(''); }}
                aria-label={`${t('add')}: ${u.display_name}`}>{t('add')}</button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
