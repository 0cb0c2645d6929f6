// Issue 6 part of the window.wache bridge (web/wasm/alarm.go): SOS, answers,
// the dispatch view, priority messages with acknowledgement, receipts and
// Web Push registration. Kept apart from ../api.ts so the chat UI's types
// stay as they are.
import { w, on as onBase } from '../bridge';
import type { Location, Message } from '../api';

export type AlarmState = 'raised' | 'acknowledged' | 'escalated' | 'ended' | 'false_alarm';

export interface AlarmResponse {
  user_id: string;
  email: string;
  display_name: string;
  response: 'coming' | 'cannot';
  eta_s?: number;
  at: string;
}

export interface AlarmEvent { at: string; event: string; by?: string; detail?: string }

export interface Alarm {
  id: string;
  client_id: string;
  raised_by: string;
  raised_by_email: string;
  raised_by_name: string;
  raised_device: string;
  unit_id: string;
  state: AlarmState;
  conv_ids: string[];
  escalation_conv_id?: string;
  min_coming: number;
  window_seconds: number;
  raised_at: string;
  deadline: string;
  escalated_at?: string;
  ended_at?: string;
  ended_by?: string;
  responses: AlarmResponse[];
  timeline: AlarmEvent[];
  duplicate?: boolean;
  partial?: boolean; // a frame's bounded copy left older events or responses out
}

export interface AlarmSighting {
  note?: string;
  location?: Location;
  updates: number;
  stopped?: boolean;
  last_at: string;
}

export interface AlarmView {
  alarm: Alarm;
  mine: boolean;
  coming: number;
  my_response?: 'coming' | 'cannot';
  content?: AlarmSighting;
  names: Record<string, string>;
}

export interface PriorityEntry {
  conv_id: string;
  seq: number;
  local_id?: string;
  mine: boolean;
  priority?: '' | 'urgent' | 'alarm';
  ack_required: boolean;
  sender_id: string;
  sender_name: string;
  time: string;
  text: string;
  acknowledged_at?: string;
}

export interface MemberReceipt {
  user_id: string;
  email: string;
  display_name: string;
  delivered_at?: string;
  read_at?: string;
  acknowledged_at?: string;
}

export interface Receipts {
  conv_id: string;
  seq: number;
  priority?: string;
  recipients: number;
  delivered: number;
  read: number;
  acknowledged: number;
  closed_at?: string;
  members: MemberReceipt[];
}

export interface Pos { lat: number; lon: number; accuracy_m: number }

export interface AlarmBridge {
  sos(o: { note?: string; position?: Pos }): Promise<AlarmView>;
  updateSOSPosition(p: Pos): Promise<{ active: boolean }>;
  endAlarm(id: string, o: { falseAlarm: boolean }): Promise<AlarmView>;
  respond(alarmId: string, response: 'coming' | 'cannot', etaSeconds?: number): Promise<AlarmView>;
  alarms(o?: { all?: boolean; limit?: number }): Promise<AlarmView[]>;
  alarm(id: string): Promise<AlarmView>;
  acknowledgeAlarm(id: string): Promise<{ acknowledged: number }>;
  acknowledge(convId: string, seq: number): Promise<{ acknowledged_at: string }>;
  markPriorityRead(convId: string, seq: number): Promise<void>;
  receipts(convId: string, seq: number, o?: { pending?: boolean }): Promise<Receipts>;
  closeAck(convId: string, seq: number): Promise<void>;
  sendPriority(convId: string, o: { text: string; priority: '' | 'urgent' | 'alarm'; ackRequired: boolean; remindAfterS?: number }): Promise<Message>;
  priorityMessages(o?: { convId?: string; pending?: boolean }): Promise<PriorityEntry[]>;
  pushKey(): Promise<string>;
  subscribePush(sub: string | object): Promise<{ count: number }>;
  unsubscribePush(endpoint: string): Promise<void>;
}

export interface AlarmEvents {
  alarm: {
    alarm?: AlarmView;
    // a decrypted SOS (client_id, note) or live position/stop (alarm_id) of sender_id
    position?: boolean; conv_id?: string; sender_id?: string; alarm_id?: string; client_id?: string;
    note?: string; location?: Location; stopped?: boolean;
  };
  reminder: { conv_id: string; seq: number };
  priority: { conv_id?: string; seq?: number };
}

export function wa(): AlarmBridge {
  return w() as unknown as AlarmBridge;
}

export function onAlarm<K extends keyof AlarmEvents>(ev: K, cb: (e: AlarmEvents[K]) => void): () => void {
  return (onBase as unknown as (e: string, cb: (x: AlarmEvents[K]) => void) => () => void)(ev, cb);
}

export const activeStates: AlarmState[] = ['raised', 'acknowledged', 'escalated'];
export const isActive = (a: Alarm) => activeStates.includes(a.state);
