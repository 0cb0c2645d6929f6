import { useEffect, useRef, useState } from 'preact/hooks';
import type { ChatDetail, Message, ProgressEvent } from '../api';
import { errCode } from '../api';
import { w, on } from '../bridge';
import { t, fmtTime, fmtSize } from '../i18n';
import { handleFatal, errMsg, showToast } from '../state';
import { Icon } from '../components/icon';
import { OfflineMap } from '../components/map';
import { preparePhoto, prepareFile, Recorder, getPosition, MAX_FILE_BYTES, type Prepared } from '../media';

// Drafts live in the bridge (encrypted at rest); this in-memory copy only
// bridges the moment between typing and the debounced save.
const draftCache = new Map<string, string>();

// One live-location share at a time, kept across screens. The bridge drops
// updates closer than 3 s apart, so the newest position is held back and
// sent once the gap has passed: the last move is never lost.
type Pos = { lat: number; lon: number; accuracy_m: number };
let live: { conv: string; watch: number; until: number; pos?: Pos; sent: number; timer?: ReturnType<typeof setTimeout> } | null = null;
const LIVE_GAP_MS = 3500;

function pushLive() {
  const l = live;
  if (!l?.pos) return;
  const wait = l.sent + LIVE_GAP_MS - Date.now();
  if (wait > 0) {
    if (!l.timer) l.timer = setTimeout(() => { l.timer = undefined; pushLive(); }, wait);
    return;
  }
  l.sent = Date.now();
  const p = l.pos;
  l.pos = undefined;
  w().updateLiveLocation(p).catch(() => {});
}

function key(m: Message) {
  return m.local_id || `s${m.seq}`;
}

function upsert(list: Message[], m: Message): Message[] {
  const i = list.findIndex((x) => (m.local_id && x.local_id === m.local_id) || (m.seq > 0 && x.seq === m.seq));
  if (i >= 0) {
    const copy = list.slice();
    copy[i] = m;
    return copy;
  }
  const out = [...list, m];
  // pending messages (seq 0) stay at the end, the rest in sequence order
  out.sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity));
  return out;
}

type Progress = Record<string, { done: number; total: number; direction: 'up' | 'down' }>;

function progKey(p: ProgressEvent) {
  return p.local_id ? p.local_id : `${p.conv_id}:${p.seq}`;
}

export function Chat({ id }: { id: string }) {
  const [chat, setChat] = useState<ChatDetail | null>(null);
  const [msgs, setMsgs] = useState<Message[] | null>(null);
  const [more, setMore] = useState(false);
  const [progress, setProgress] = useState<Progress>({});
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const listRef = useRef<HTMLDivElement>(null);
  const lastRead = useRef(0);
  const atBottom = useRef(true);

  useEffect(() => {
    let alive = true;
    w().chat(id).then((c) => alive && setChat(c)).catch((e) => { if (!handleFatal(e)) showToast(errMsg(e)); });
    w().messages(id, { limit: 50 }).then((m) => {
      if (!alive) return;
      setMsgs(m);
      setMore(m.length >= 50);
    }).catch((e) => { if (!handleFatal(e)) { showToast(errMsg(e)); setMsgs([]); } });
    const off1 = on('message', (e) => {
      if (e.conv_id !== id) return;
      setMsgs((l) => upsert(l ?? [], e.message));
    });
    const off2 = on('progress', (p) => {
      if (p.conv_id && p.conv_id !== id && !p.local_id) return;
      setProgress((old) => {
        const k = progKey(p);
        const n = { ...old };
        if (p.total > 0 && p.done >= p.total) delete n[k];
        else n[k] = { done: p.done, total: p.total, direction: p.direction };
        return n;
      });
    });
    const off3 = on('chats', () => w().chat(id).then((c) => alive && setChat(c)).catch(() => {}));
    return () => { alive = false; off1(); off2(); off3(); };
  }, [id]);

  // Keep the view at the newest message, and send a read receipt for it.
  useEffect(() => {
    const el = listRef.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
    if (!msgs || document.visibilityState !== 'visible') return;
    let max = 0;
    for (const m of msgs) if (!m.mine && m.seq > max) max = m.seq;
    if (max > lastRead.current) {
      lastRead.current = max;
      w().markRead(id, max).catch(() => {});
    }
  }, [msgs]);

  const older = async () => {
    if (!msgs?.length) return;
    const first = msgs.find((m) => m.seq > 0);
    if (!first) return;
    const el = listRef.current;
    const h = el?.scrollHeight ?? 0;
    const o = await w().messages(id, { beforeSeq: first.seq, limit: 50 });
    setMore(o.length >= 50);
    atBottom.current = false;
    setMsgs((l) => [...o, ...(l ?? [])]);
    requestAnimationFrame(() => { if (el) el.scrollTop = el.scrollHeight - h; });
  };

  const onScroll = () => {
    const el = listRef.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
  };

  // Only the newest live position of each sender is drawn, with its trail.
  const liveLatest = new Map<string, Message>();
  const trails = new Map<string, { lat: number; lon: number }[]>();
  for (const m of msgs ?? []) {
    if (m.type === 'live_location' && m.location) {
      liveLatest.set(m.sender_id, m);
      const tr = trails.get(m.sender_id) ?? [];
      tr.push({ lat: m.location.lat, lon: m.location.lon });
      trails.set(m.sender_id, tr.slice(-50));
    }
  }

  const group = chat && chat.kind !== 'direct';
  return (
    <section class="chat" aria-labelledby="chat-h">
      <header class="bar">
        <a class="btn icon-btn back" href="#/" aria-label={t('back')}><Icon name="back" /></a>
        <h1 id="chat-h" class="grow">{chat?.name ?? '…'}</h1>
        <a class="btn icon-btn" href={`#/chat/${encodeURIComponent(id)}/members`} aria-label={t('members')}><Icon name="people" /></a>
      </header>
      <div class="messages" ref={listRef} onScroll={onScroll} role="log" aria-live="polite" aria-label={t('messages')} tabIndex={0}
        data-testid="messages"><ol class="msg-list">
        {more && <li class="center"><button class="btn small" onClick={older}>{t('loadOlder')}</button></li>}
        {msgs && msgs.length === 0 && <li class="muted center">{t('noMessages')}</li>}
        {(msgs ?? []).map((m) => {
          if (m.type === 'live_location' && liveLatest.get(m.sender_id) !== m) return null;
          return (
            <Bubble key={key(m)} m={m} conv={id} group={!!group} progress={progress}
              trail={m.type === 'live_location' ? trails.get(m.sender_id) : undefined}
              onReply={() => { setReplyTo(m); document.getElementById('composer-text')?.focus(); }} />
          );
        })}
      </ol></div>
      <Composer id={id} replyTo={replyTo} clearReply={() => setReplyTo(null)}
        canPost={!chat || chat.kind !== 'channel' || chat.role === 'admin' || chat.role === 'poster'}
        onSent={(m) => { atBottom.current = true; setMsgs((l) => upsert(l ?? [], m)); }} />
    </section>
  );
}

function StatusIcon({ s }: { s: Message['status'] }) {
  const map = {
    pending: ['clock', 'statusPending'],
    sent: ['check', 'statusSent'],
    delivered: ['check2', 'statusDelivered'],
    read: ['check2', 'statusRead'],
    failed: ['alert', 'statusFailed'],
  } as const;
  const [icon, label] = map[s] ?? map.sent;
  return <span class={`status ${s}`} data-status={s}><Icon name={icon} label={t(label)} /></span>;
}

function Bar({ p, label }: { p?: { done: number; total: number }; label: string }) {
  if (!p) return null;
  return (
    <div class="xfer">
      <progress max={p.total || 1} value={p.done} aria-label={label} />
      <small>{label} {p.total ? Math.round((100 * p.done) / p.total) : 0} %</small>
    </div>
  );
}

function Bubble({ m, conv, group, progress, trail, onReply }: {
  m: Message; conv: string; group: boolean; progress: Progress; trail?: { lat: number; lon: number }[]; onReply: () => void;
}) {
  const up = progress[m.local_id];
  const down = progress[`${conv}:${m.seq}`];
  return (
    <li class={`msg ${m.mine ? 'mine' : 'theirs'} ${m.status}`} data-testid="msg" data-type={m.type} data-seq={m.seq}>
      <div class="bubble">
        {group && !m.mine && <div class="sender">{m.sender_name}</div>}
        {m.reply_to && (
          <blockquote class="quote">
            <strong>{m.reply_to.sender}</strong> {m.reply_to.excerpt}
          </blockquote>
        )}
        <Body m={m} conv={conv} trail={trail} />
        <Bar p={up} label={t('upload')} />
        <Bar p={down} label={t('downloadProgress')} />
        <div class="meta">
          <time dateTime={m.time}>{fmtTime(m.time)}</time>
          {m.mine && <StatusIcon s={m.status} />}
          {m.seq > 0 && !m.undecryptable && (
            <button class="btn tiny" onClick={onReply} aria-label={`${t('reply')}: ${m.sender_name}`}><Icon name="reply" /></button>
          )}
        </div>
      </div>
    </li>
  );
}

function Body({ m, conv, trail }: { m: Message; conv: string; trail?: { lat: number; lon: number }[] }) {
  if (m.undecryptable) return <p class="muted italic">{t('undecryptable')}</p>;
  switch (m.type) {
    case 'text':
      return <p class="text">{m.text}</p>;
    case 'location':
    case 'live_location':
      if (!m.location) return null;
      return (
        <div>
          {m.type === 'live_location' && m.location.live_until && (
            <p class="live-tag"><Icon name="live" /> {t('liveUntil', { t: fmtTime(m.location.live_until) })}</p>
          )}
          <OfflineMap lat={m.location.lat} lon={m.location.lon} accuracy={m.location.accuracy_m}
            trail={trail} live={m.type === 'live_location'} />
          {m.text && <p class="text">{m.text}</p>}
        </div>
      );
    case 'live_stop':
      return <p class="muted">{t('liveEnded')}</p>;
    case 'attachment':
      return <AttachmentView m={m} conv={conv} />;
    default:
      return <p class="muted italic">{m.text || t('unsupported')}</p>;
  }
}

// Fetched attachments are kept as object URLs for the session of the page.
const fetched = new Map<string, string>();

function AttachmentView({ m, conv }: { m: Message; conv: string }) {
  const a = m.attachment!;
  const k = `${conv}:${m.seq}`;
  const [url, setUrl] = useState<string | undefined>(fetched.get(k));
  const [busy, setBusy] = useState(false);
  const load = async () => {
    if (url || m.seq === 0) return url;
    setBusy(true);
    try {
      const data = await w().fetchFile(conv, m.seq);
      const u = URL.createObjectURL(new Blob([data as BlobPart], { type: a.mime }));
      fetched.set(k, u);
      setUrl(u);
      return u;
    } catch (e) {
      if (!handleFatal(e)) showToast(errMsg(e));
    } finally {
      setBusy(false);
    }
  };
  const kind = a.mime.startsWith('image/') ? 'image' : a.mime.startsWith('video/') ? 'video' : a.mime.startsWith('audio/') ? 'audio' : 'doc';
  const info = <small class="muted">{a.name} · {fmtSize(a.size)}</small>;
  if (kind === 'image') {
    return (
      <div class="att image">
        {url ? <img src={url} alt={a.name} data-testid="photo-full" />
          : a.thumbnail ? <img src={a.thumbnail} alt={a.name} class="thumb" data-testid="photo-thumb" /> : null}
        <div class="att-row">{info}{!url && m.seq > 0 && <button class="btn small" onClick={load} disabled={busy}>{t('open')}</button>}</div>
      </div>
    );
  }
  if (kind === 'video') {
    return (
      <div class="att video">
        {url ? <video src={url} controls playsInline aria-label={a.name} />
          : a.thumbnail ? <img src={a.thumbnail} alt={a.name} class="thumb" /> : <Icon name="video" />}
        <div class="att-row">{info}{!url && m.seq > 0 && <button class="btn small" onClick={load} disabled={busy}>{t('play')}</button>}</div>
      </div>
    );
  }
  if (kind === 'audio') {
    return (
      <div class="att audio">
        <Icon name="mic" />
        {url ? <audio src={url} controls autoPlay aria-label={a.name} />
          : m.seq > 0 && <button class="btn small" onClick={load} disabled={busy}>{t('play')}</button>}
        <div>{info}</div>
      </div>
    );
  }
  const download = async () => {
    const u = await load();
    if (!u) return;
    const el = document.createElement('a');
    el.href = u;
    el.download = a.name;
    el.click();
  };
  return (
    <div class="att doc">
      <Icon name="doc" />
      <span class="grow">{info}</span>
      {m.seq > 0 && <button class="btn small" onClick={download} disabled={busy}>{t('download')}</button>}
    </div>
  );
}

function Composer({ id, replyTo, clearReply, onSent, canPost }: {
  id: string; replyTo: Message | null; clearReply: () => void; onSent: (m: Message) => void; canPost: boolean;
}) {
  const [text, setText] = useState(draftCache.get(id) ?? '');
  const [menu, setMenu] = useState(false);
  const [rec, setRec] = useState<Recorder | null>(null);
  const [recSecs, setRecSecs] = useState(0);
  const [liveDlg, setLiveDlg] = useState(false);
  const [liveMins, setLiveMins] = useState(15);
  const [liveOn, setLiveOn] = useState(live?.conv === id);
  const saveTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const photoIn = useRef<HTMLInputElement>(null);
  const galleryIn = useRef<HTMLInputElement>(null);
  const videoIn = useRef<HTMLInputElement>(null);
  const docIn = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (draftCache.has(id)) return;
    w().draft?.(id).then((d) => { if (d && !draftCache.has(id)) { draftCache.set(id, d); setText(d); } }).catch(() => {});
  }, [id]);

  useEffect(() => {
    if (!rec) return;
    const h = setInterval(() => setRecSecs(Math.round((Date.now() - rec.started) / 1000)), 500);
    return () => clearInterval(h);
  }, [rec]);

  const saveDraft = (v: string) => {
    draftCache.set(id, v);
    clearTimeout(saveTimer.current);
    saveTimer.current = setTimeout(() => w().saveDraft?.(id, v).catch(() => {}), 400);
  };

  const fail = (e: unknown) => { if (!handleFatal(e)) showToast(errMsg(e)); };

  const send = async (e?: Event) => {
    e?.preventDefault();
    const v = text.trim();
    if (!v) return;
    try {
      const m = await w().send(id, { text: v, replyTo: replyTo?.seq || undefined });
      onSent(m);
      setText('');
      draftCache.set(id, '');
      clearTimeout(saveTimer.current);
      w().saveDraft?.(id, '').catch(() => {});
      clearReply();
    } catch (x) {
      fail(x); // the text stays in the box: nothing typed is lost
    }
  };

  const sendPrepared = async (p: Prepared) => {
    try {
      onSent(await w().sendFile(id, p));
    } catch (x) {
      fail(x);
    }
  };

  const pick = (kind: 'photo' | 'file') => async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    setMenu(false);
    for (const f of files) {
      if (f.size > MAX_FILE_BYTES) { showToast(t('fileTooLarge', { mb: MAX_FILE_BYTES >> 20 })); continue; }
      try {
        const p = kind === 'photo' && f.type.startsWith('image/') ? await preparePhoto(f) : await prepareFile(f);
        await sendPrepared(p);
      } catch (x) {
        showToast(kind === 'photo' ? t('imageFailed') : errMsg(x));
      }
    }
  };

  const startRec = async () => {
    setMenu(false);
    const r = new Recorder();
    try {
      await r.start();
      setRecSecs(0);
      setRec(r);
    } catch {
      showToast(t('micDenied'));
    }
  };
  const stopRec = async () => {
    const r = rec;
    setRec(null);
    const p = await r?.stop();
    if (p && p.data.length) await sendPrepared(p);
  };

  const sendLoc = async () => {
    setMenu(false);
    try {
      const p = await getPosition();
      onSent(await w().sendLocation(id, p));
    } catch (x) {
      if (errCode(x)) fail(x);
      else showToast(t('geoDenied'));
    }
  };

  const startLive = async () => {
    setLiveDlg(false);
    try {
      const p = await getPosition();
      await w().startLiveLocation(id, liveMins);
      await w().updateLiveLocation(p);
      if (live) {
        navigator.geolocation.clearWatch(live.watch);
        clearTimeout(live.timer);
      }
      const until = Date.now() + liveMins * 60000;
      const watch = navigator.geolocation.watchPosition(
        (pos) => {
          if (Date.now() > until) return stopLive();
          if (!live) return;
          live.pos = { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy_m: Math.round(pos.coords.accuracy) };
          pushLive();
        },
        () => {},
        { enableHighAccuracy: true, maximumAge: 15000 },
      );
      live = { conv: id, watch, until, sent: Date.now() };
      setLiveOn(true);
    } catch (x) {
      if (errCode(x)) fail(x);
      else showToast(t('geoDenied'));
    }
  };
  const stopLive = async () => {
    if (live) {
      navigator.geolocation.clearWatch(live.watch);
      clearTimeout(live.timer);
    }
    const c = live?.conv ?? id;
    live = null;
    setLiveOn(false);
    await w().stopLiveLocation(c).catch(fail);
  };

  if (!canPost) return null;
  return (
    <div class="composer-wrap">
      {liveOn && (
        <div class="live-bar" role="status">
          <Icon name="live" /> {t('liveActive')}
          <button class="btn small" onClick={stopLive}>{t('liveStop')}</button>
        </div>
      )}
      {replyTo && (
        <div class="reply-bar">
          <span class="grow">{t('replyTo', { name: replyTo.sender_name })}: <em>{(replyTo.text ?? replyTo.attachment?.name ?? '').slice(0, 80)}</em></span>
          <button class="btn tiny" onClick={clearReply} aria-label={t('cancelReply')}><Icon name="close" /></button>
        </div>
      )}
      {rec ? (
        <div class="composer recording" role="status">
          <span class="rec-dot" aria-hidden="true" /> <span class="grow">{t('recording', { s: recSecs })}</span>
          <button class="btn small" onClick={() => { rec.cancel(); setRec(null); }}>{t('recordCancel')}</button>
          <button class="btn primary small" onClick={stopRec} aria-label={t('recordStop')}><Icon name="send" /></button>
        </div>
      ) : (
        <form class="composer" onSubmit={send}>
          <button type="button" class="btn icon-btn" aria-label={t('attach')} aria-expanded={menu} aria-controls="attach-menu"
            onClick={() => setMenu(!menu)}><Icon name="clip" /></button>
          <label for="composer-text" class="sr-only">{t('message')}</label>
          <textarea id="composer-text" rows={1} value={text} placeholder={t('message')} maxLength={8000}
            onInput={(e) => { setText(e.currentTarget.value); saveDraft(e.currentTarget.value); }}
            onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); } }} />
          <button type="submit" class="btn primary icon-btn" aria-label={t('send')} disabled={!text.trim()}><Icon name="send" /></button>
        </form>
      )}
      {menu && (
        <div id="attach-menu" class="attach-menu" role="group" aria-label={t('attach')}>
          <button class="btn" onClick={() => photoIn.current?.click()}><Icon name="camera" />{t('photo')}</button>
          <button class="btn" onClick={() => galleryIn.current?.click()}><Icon name="image" />{t('gallery')}</button>
          <button class="btn" onClick={() => videoIn.current?.click()}><Icon name="video" />{t('video')}</button>
          <button class="btn" onClick={() => docIn.current?.click()}><Icon name="doc" />{t('document')}</button>
          <button class="btn" onClick={startRec}><Icon name="mic" />{t('voice')}</button>
          <button class="btn" onClick={sendLoc}><Icon name="pin" />{t('location')}</button>
          <button class="btn" onClick={() => { setMenu(false); setLiveDlg(true); }}><Icon name="live" />{t('liveLocation')}</button>
        </div>
      )}
      {liveDlg && (
        <div class="live-dlg" role="dialog" aria-labelledby="live-h">
          <h2 id="live-h" class="small-h">{t('liveLocation')}</h2>
          <label for="live-mins">{t('liveMinutes')}</label>
          <select id="live-mins" value={String(liveMins)} onChange={(e) => setLiveMins(Number(e.currentTarget.value))}>
            {[15, 30, 60, 120, 480].map((n) => <option key={n} value={String(n)}>{t('minutes', { n })}</option>)}
          </select>
          <div class="row">
            <button class="btn" onClick={() => setLiveDlg(false)}>{t('dismiss')}</button>
            <button class="btn primary" onClick={startLive}>{t('liveStart')}</button>
          </div>
        </div>
      )}
      <input ref={photoIn} type="file" accept="image/*" capture="environment" hidden onChange={pick('photo')} data-testid="input-photo" />
      <input ref={galleryIn} type="file" accept="image/*" multiple hidden onChange={pick('photo')} data-testid="input-gallery" />
      <input ref={videoIn} type="file" accept="video/*" hidden onChange={pick('file')} data-testid="input-video" />
      <input ref={docIn} type="file" hidden onChange={pick('file')} data-testid="input-doc" />
    </div>
  );
}
