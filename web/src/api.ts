// Types of the window.wache bridge (Go client core in WebAssembly); see
// /work/brief contract and docs/design/webapp.md. The UI never sees keys.

export type ErrorCode = 'EINVALID' | 'EUNAUTHORIZED' | 'EREVOKED' | 'ENETWORK' | 'ELOCKED' | 'ECORRUPT' | string;

export interface WacheError extends Error {
  code?: ErrorCode;
}

export interface InitResult {
  state: 'new' | 'locked' | 'unlocked';
  email?: string;
}

export interface User {
  id: string;
  email: string;
  display_name: string;
  roles?: string[];
}

export interface Me {
  user: User;
  device: { id: string; name: string };
}

export interface ChatSummary {
  id: string;
  kind: 'direct' | 'group' | 'channel';
  name: string;
  unread: number;
  members: number;
  last?: { seq: number; sender_name: string; time: string; preview: string };
}

export interface Member {
  user_id: string;
  email: string;
  display_name: string;
  role: string;
}

export interface ChatDetail {
  id: string;
  kind: 'direct' | 'group' | 'channel';
  name: string;
  role: string;
  members: Member[];
}

export interface Attachment {
  name: string;
  mime: string;
  size: number;
  thumbnail?: string;
}

export interface Location {
  lat: number;
  lon: number;
  accuracy_m: number;
  time: string;
  live_until?: string;
}

export type MsgStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface Message {
  conv_id: string;
  seq: number;
  local_id: string;
  sender_id: string;
  sender_email: string;
  sender_name: string;
  mine: boolean;
  time: string;
  type: 'text' | 'attachment' | 'location' | 'live_location' | 'live_stop' | 'unsupported';
  text?: string;
  reply_to?: { seq: number; excerpt: string; sender: string };
  attachment?: Attachment;
  location?: Location;
  status: MsgStatus;
  undecryptable?: boolean;
}

export interface Device {
  id: string;
  name: string;
  created_at: string;
  last_seen_at: string;
  revoked_at?: string;
  current: boolean;
}

export interface ConnectionEvent {
  state: 'online' | 'connecting' | 'offline';
  retry_in_s?: number;
}

export interface ProgressEvent {
  local_id?: string;
  conv_id?: string;
  seq?: number;
  done: number;
  total: number;
  direction: 'up' | 'down';
}

export interface EventMap {
  message: { conv_id: string; message: Message };
  chats: Record<string, never>;
  connection: ConnectionEvent;
  progress: ProgressEvent;
  locked: Record<string, never>;
  revoked: Record<string, never>;
  error: { code: ErrorCode; message: string };
}

export interface Bridge {
  init(o?: { server?: string }): Promise<InitResult>;
  requestCode(email: string): Promise<void>;
  verify(o: { email: string; code: string; deviceName: string; pin: string }): Promise<unknown>;
  unlock(pin: string): Promise<void>;
  lock(): Promise<void>;
  logout(): Promise<void>;
  setAutoLock(minutes: number): Promise<void>;
  me(): Promise<Me>;
  chats(): Promise<ChatSummary[]>;
  createChat(o: { kind: 'direct' | 'group' | 'channel'; name?: string; members: string[] }): Promise<ChatSummary | ChatDetail>;
  chat(id: string): Promise<ChatDetail>;
  addMember(convId: string, email: string, role?: string): Promise<void>;
  removeMember(convId: string, email: string): Promise<void>;
  users(query: string): Promise<User[]>;
  messages(convId: string, o?: { beforeSeq?: number; limit?: number }): Promise<Message[]>;
  send(convId: string, o: { text: string; replyTo?: number }): Promise<Message>;
  sendFile(convId: string, o: { name: string; mime: string; data: Uint8Array; thumbnail?: string }): Promise<Message>;
  fetchFile(convId: string, seq: number): Promise<Uint8Array>;
  sendLocation(convId: string, o: { lat: number; lon: number; accuracy_m: number }): Promise<Message>;
  startLiveLocation(convId: string, minutes: number): Promise<unknown>;
  updateLiveLocation(o: { lat: number; lon: number; accuracy_m: number }): Promise<void>;
  stopLiveLocation(convId: string): Promise<void>;
  markRead(convId: string, seq: number): Promise<void>;
  devices(): Promise<Device[]>;
  revokeDevice(id: string): Promise<void>;
  saveDraft?(convId: string, text: string): Promise<void>;
  draft?(convId: string): Promise<string>;
  bench?(): Promise<unknown>;
  on<K extends keyof EventMap>(event: K, cb: (e: EventMap[K]) => void): (() => void) | Promise<() => void>;
}

declare global {
  interface Window {
    wache?: Bridge;
    Go?: new () => { importObject: WebAssembly.Imports; run(i: WebAssembly.Instance): Promise<void> };
  }
}

export function errCode(e: unknown): ErrorCode | undefined {
  return (e as WacheError | undefined)?.code;
}
