// An in-memory stand-in for window.wache, for working on the UI with the
// Vite dev server (`npm run dev`, then open /?fake). It is loaded only in dev
// mode (see bridge.ts), never built into the app and never used by tests.
import type { Bridge, Message, ChatSummary, EventMap } from './api';

export function fakeBridge(): Bridge {
  const subs: { [K in keyof EventMap]?: Set<(e: EventMap[K]) => void> } = {};
  const emit = <K extends keyof EventMap>(k: K, e: EventMap[K]) => subs[k]?.forEach((f) => f(e));
  let state: 'new' | 'locked' | 'unlocked' = 'new';
  const meU = { id: 'u1', email: 'anna.schmidt@polizei.example', display_name: 'Anna Schmidt' };
  const users = [meU, { id: 'u2', email: 'ben.mueller@polizei.example', display_name: 'Ben Müller' }];
  const chats: ChatSummary[] = [{ id: 'c1', kind: 'group', name: 'Streife Nord', unread: 2, members: 2 }];
  const msgs: Record<string, Message[]> = { c1: [] };
  let n = 0;
  const mk = (conv: string, p: Partial<Message>): Message => ({
    conv_id: conv, seq: 0, local_id: `l${++n}`, sender_id: 'u1', sender_email: meU.email, sender_name: meU.display_name,
    mine: true, time: new Date().toISOString(), type: 'text', status: 'pending', ...p,
  });
  const deliver = (m: Message) => {
    msgs[m.conv_id].push(m);
    setTimeout(() => { m.seq = msgs[m.conv_id].filter((x) => x.seq).length + 1; m.status = 'sent'; emit('message', { conv_id: m.conv_id, message: { ...m } }); }, 300);
    return { ...m };
  };
  msgs.c1.push(mk('c1', { seq: 1, mine: false, sender_id: 'u2', sender_name: 'Ben Müller', text: 'Bin am Einsatzort.', status: 'read' }));
  return {
    async init() { return { state }; },
    async requestCode() {},
    async verify() { state = 'unlocked'; },
    async unlock() { state = 'unlocked'; },
    async lock() { state = 'locked'; },
    async logout() { state = 'new'; },
    async setAutoLock() {},
    async me() { return { user: meU, device: { id: 'd1', name: 'Browser' } }; },
    async chats() { return chats; },
    async createChat(o) { const c = { id: `c${chats.length + 1}`, kind: o.kind, name: o.name || o.members[0], unread: 0, members: o.members.length + 1 }; chats.push(c); msgs[c.id] = []; return c; },
    async chat(id) { const c = chats.find((x) => x.id === id)!; return { ...c, role: 'admin', members: users.map((u) => ({ user_id: u.id, email: u.email, display_name: u.display_name, role: 'admin' })) }; },
    async addMember() {},
    async removeMember() {},
    async users(q) { return users.filter((u) => u.email.includes(q)); },
    async messages(id) { return msgs[id].map((m) => ({ ...m })); },
    async send(id, o) { return deliver(mk(id, { text: o.text })); },
    async sendFile(id, o) { return deliver(mk(id, { type: 'attachment', attachment: { name: o.name, mime: o.mime, size: o.data.length, thumbnail: o.thumbnail } })); },
    async fetchFile() { return new Uint8Array(); },
    async sendLocation(id, o) { return deliver(mk(id, { type: 'location', location: { ...o, time: new Date().toISOString() } })); },
    async startLiveLocation() {},
    async updateLiveLocation() {},
    async stopLiveLocation() {},
    async markRead() {},
    async devices() { return [{ id: 'd1', name: 'Browser', created_at: new Date().toISOString(), last_seen_at: new Date().toISOString(), current: true }]; },
    async revokeDevice() {},
    async auskunft(q) {
      return { hit: false, warnings: [], alerts: [], persons: [], vehicles: [], documents: [], partial: false, kind: q.kind, mode: q.mode ?? 'wanted', at: new Date().toISOString(), audit_seq: 1 };
    },
    async scanMRZ() { throw Object.assign(new Error('Nicht gefunden. / no MRZ (fake bridge)'), { code: 'ENOTFOUND' }); },
    async scanPlate() { throw Object.assign(new Error('Nicht gefunden. / no plate (fake bridge)'), { code: 'ENOTFOUND' }); },
    on(ev, cb) { const s = (subs[ev] ??= new Set() as never) as Set<typeof cb>; s.add(cb); return () => s.delete(cb); },
  };
}
