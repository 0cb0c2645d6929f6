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

// Auskunft (docs/API.md "POST /auskunft/query"): results are for display
// only; neither the bridge nor the UI stores them.
export type AuskunftKind = 'plate' | 'vin' | 'document' | 'person';

export interface AuskunftQuery {
  kind: AuskunftKind;
  text?: string;
  surname?: string;
  given?: string;
  dob?: string;
  mode?: 'wanted' | 'full';
  purpose: string;
  limit?: number;
}

export interface AuskunftWarning { code: string; label: string; person_id: string; person: string; relation: string; score?: number; source?: string }
export interface AuskunftAlert {
  id: string; category: string; category_label: string; action: string; authority: string;
  valid_from?: string; valid_until?: string; active: boolean; subject_kind: string; subject: string;
  subject_label: string; source?: string;
}
export interface AuskunftPerson {
  id: string; surname: string; given_names?: string; birth_name?: string; dob?: string; birth_place?: string;
  nationality?: string; sex?: string; aliases?: string[]; warnings?: string[]; score?: number; relation: string; source?: string;
}
export interface AuskunftVehicle { id: string; plate?: string; vin?: string; make?: string; model?: string; colour?: string; holder?: string; relation: string; source?: string }
export interface AuskunftDocument {
  id: string; type: string; number: string; issuing_state?: string; expiry?: string; expired?: boolean;
  holder?: string; relation: string; source?: string;
}
export interface AuskunftResult {
  hit: boolean;
  warnings: AuskunftWarning[];
  alerts: AuskunftAlert[];
  persons: AuskunftPerson[];
  vehicles: AuskunftVehicle[];
  documents: AuskunftDocument[];
  candidates?: { plate: string; alert: boolean; reason: string }[];
  truncated?: boolean;
  partial: boolean;
  missing_sources?: string[];
  kind: AuskunftKind;
  mode: 'wanted' | 'full';
  at: string;
  audit_seq: number;
}

// Scanner: the page hands in luminance bytes (one per pixel, row by row);
// the Go recogniser runs in the wasm, the photo never leaves the device.
export interface GrayImage { width: number; height: number; pixels: Uint8Array }

export interface MRZResult {
  format: string;
  document_code: string;
  issuing_state: string;
  document_number: string;
  surname: string;
  given_names: string;
  nationality: string;
  birth_date: string;
  sex: string;
  expiry_date: string;
  optional_data?: string;
  valid: boolean;
  checks: { field: string; digit: string; expected: string; ok: boolean }[];
  fields: Record<string, { valid: boolean; problem?: string }>;
  lines: string[];
  name_truncated?: boolean;
}

export interface PlateCandidate { plate: string; district: string; letters: string; digits: string; suffix?: string; kind: string; district_name?: string; state?: string }
export interface PlateReading {
  plate: string;
  candidates: PlateCandidate[];
  text: string;
  margin: number; // nats to the next reading
  worst: number; // cost of the weakest glyph
  uncertain?: boolean; // a close call or a weak glyph: the officer must compare with the vehicle
}

export interface ScanResult { mrz?: MRZResult; plate?: PlateReading; took_ms: number }

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
  auskunft(q: AuskunftQuery): Promise<AuskunftResult>;
  scanMRZ(img: GrayImage): Promise<ScanResult>;
  scanPlate(img: GrayImage): Promise<ScanResult>;
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
