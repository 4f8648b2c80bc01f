/**
 * The case flow's words in both languages (states, actions, clocks), as the county's
 * 数字化城市管理 practice names them, and how the desk formats times, distances and rates.
 */

import { nameLookup } from '../bilingualName';
import { getLang, locale, type Bilingual, type Lang } from '../i18n';

const STATES: Record<string, Bilingual> = {
  reported: { zh: '待立案', en: 'Reported' },
  filed: { zh: '待派遣', en: 'Filed' },
  voided: { zh: '已作废', en: 'Voided' },
  dispatched: { zh: '已派遣', en: 'Dispatched' },
  accepted: { zh: '已签收', en: 'Accepted' },
  in_progress: { zh: '处置中', en: 'In progress' },
  handled: { zh: '已处置', en: 'Handled' },
  verifying: { zh: '核查中', en: 'Verifying' },
  closed: { zh: '已结案', en: 'Closed' },
  returned: { zh: '已退回', en: 'Returned' },
  parked: { zh: '已挂账', en: 'Parked' },
};

const ACTIONS: Record<string, Bilingual> = {
  report: { zh: '上报', en: 'Report' },
  file: { zh: '立案', en: 'File' },
  void: { zh: '作废', en: 'Void' },
  dispatch: { zh: '派遣', en: 'Dispatch' },
  accept: { zh: '签收', en: 'Accept' },
  return: { zh: '退回', en: 'Return' },
  start: { zh: '开始处置', en: 'Start' },
  request_extension: { zh: '申请延期', en: 'Request extension' },
  grant_extension: { zh: '批准延期', en: 'Grant extension' },
  deny_extension: { zh: '驳回延期', en: 'Deny extension' },
  park: { zh: '挂账', en: 'Park' },
  unpark: { zh: '恢复处置', en: 'Unpark' },
  handle: { zh: '处置反馈', en: 'Report handled' },
  send_to_verify: { zh: '派发核查', en: 'Send to verify' },
  confirm: { zh: '核查结案', en: 'Confirm & close' },
  rework: { zh: '返工', en: 'Rework' },
  supervise: { zh: '督办', en: 'Supervise' },
};

const STAGES: Record<string, Bilingual> = {
  accept: { zh: '签收', en: 'Accept' },
  handle: { zh: '处置', en: 'Handle' },
  verify: { zh: '核查', en: 'Verify' },
};

const CAMERA_STATUS: Record<string, Bilingual> = {
  online: { zh: '在线', en: 'online' },
  offline: { zh: '离线', en: 'offline' },
  fault: { zh: '故障', en: 'fault' },
};

/** Who acts next on a case in each state (backend/incidents/flow.py's rules), for a user who
 * has no action on it now. */
const NEXT_ACTOR: Record<string, Bilingual> = {
  reported: { zh: '监督中心立案', en: 'the supervision centre files it' },
  filed: { zh: '指挥中心派遣', en: 'the command centre dispatches it' },
  returned: { zh: '指挥中心重新派遣', en: 'the command centre dispatches it again' },
  dispatched: { zh: '承办单位签收', en: 'the assigned unit accepts it' },
  accepted: { zh: '承办单位处置', en: 'the assigned unit handles it' },
  in_progress: { zh: '承办单位处置', en: 'the assigned unit handles it' },
  handled: { zh: '监督中心派发核查', en: 'the supervision centre sends it to be verified' },
  verifying: { zh: '核查人核查结案', en: 'the verifier checks and closes it' },
  parked: { zh: '指挥中心恢复处置', en: 'the command centre resumes it' },
};

/** Actions that the server refuses without a note (backend/incidents/flow.py). */
export const NEEDS_NOTE = new Set(['void', 'return', 'request_extension', 'deny_extension', 'park', 'handle', 'rework']);

/** States the desk groups as "to dispatch" and as "being handled". */
export const TO_DISPATCH = new Set(['filed', 'returned']);
export const IN_HAND = new Set(['dispatched', 'accepted', 'in_progress', 'handled', 'verifying', 'parked']);
export const FINAL = new Set(['closed', 'voided']);

export const stateName = nameLookup(STATES);
export const actionName = nameLookup(ACTIONS);
export const stageName = nameLookup(STAGES);
export const cameraStatusName = nameLookup(CAMERA_STATUS);
const nextActorLookup = nameLookup(NEXT_ACTOR);
/** Who acts next on a case in `state` ('' once it is closed or voided). */
export function nextActor(state: string, lang: Lang = getLang()): string {
  return state in NEXT_ACTOR ? nextActorLookup(state, lang) : '';
}

/** "2 h 05 min" / "2小时05分" for a positive number of milliseconds. */
export function duration(ms: number, lang: Lang = getLang()): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const zh = lang === 'zh';
  if (days) return zh ? `${days}天${hours}小时` : `${days} d ${hours} h`;
  if (hours) return zh ? `${hours}小时${String(mins).padStart(2, '0')}分` : `${hours} h ${String(mins).padStart(2, '0')} min`;
  if (minutes) return zh ? `${mins}分钟` : `${mins} min`;
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return zh ? `${seconds}秒` : `${seconds} s`;
}

export type Urgency = 'ok' | 'soon' | 'late' | 'none';

/** How the countdown to `due` is coloured: late when past, soon within two hours. */
export function countdownLevel(due: string | null, now = Date.now()): Urgency {
  if (!due) return 'none';
  const left = Date.parse(due) - now;
  if (!Number.isFinite(left)) return 'none';
  if (left <= 0) return 'late';
  return left <= 2 * 3_600_000 ? 'soon' : 'ok';
}

/** "剩余 1小时20分" / "超时 25分钟"; empty without a due time. */
export function countdownText(due: string | null, now = Date.now(), lang: Lang = getLang()): string {
  if (!due) return '';
  const left = Date.parse(due) - now;
  if (!Number.isFinite(left)) return '';
  const zh = lang === 'zh';
  if (left <= 0) return zh ? `超时 ${duration(-left, lang)}` : `${duration(-left, lang)} overdue`;
  return zh ? `剩余 ${duration(left, lang)}` : `${duration(left, lang)} left`;
}

export function formatTime(iso: string | null | undefined, lang: Lang = getLang()): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  const time = date.toLocaleTimeString(locale(lang), { hour12: false, hour: '2-digit', minute: '2-digit' });
  if (new Date().toDateString() === date.toDateString()) return time;
  return `${date.toLocaleDateString(locale(lang), { month: '2-digit', day: '2-digit' })} ${time}`;
}

export function distance(metres: number, lang: Lang = getLang()): string {
  if (metres >= 1000) return `${(metres / 1000).toFixed(metres >= 10_000 ? 0 : 1)} km`;
  return lang === 'zh' ? `${Math.round(metres)} 米` : `${Math.round(metres)} m`;
}

export function age(seconds: number, lang: Lang = getLang()): string {
  const zh = lang === 'zh';
  if (seconds < 60) return zh ? '刚刚' : 'just now';
  return zh ? `${duration(seconds * 1000, lang)}前` : `${duration(seconds * 1000, lang)} ago`;
}

/** 0.9583 -> "95.8%"; null (nothing to divide by) -> "—". */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—';
  const value = rate * 100;
  return `${value >= 99.95 || value === 0 ? value.toFixed(0) : value.toFixed(1)}%`;
}
