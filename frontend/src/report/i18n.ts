/**
 * The phone page's strings, Chinese first and English second. The language choice is shared
 * with the console (the same localStorage key) and can be forced with `?lang=en`.
 */

import { getLang, onLangChange, type Lang } from '../lang';

export { setLang, type Lang } from '../lang';

const STRINGS = {
  title: { zh: '网格员上报', en: 'Grid reporting' },
  subtitle: { zh: '泗县城市综合运行管理平台', en: 'Sixian City Operations' },
  langToggle: { zh: 'EN', en: '中文' },
  langToggleTitle: { zh: 'Switch to English', en: '切换到中文' },
  online: { zh: '在线', en: 'Online' },
  offline: { zh: '离线', en: 'Offline' },
  signOut: { zh: '退出', en: 'Sign out' },
  // login
  signInTitle: { zh: '登录', en: 'Sign in' },
  signInHint: { zh: '使用网格员账号登录', en: 'Sign in with your grid worker account' },
  username: { zh: '用户名', en: 'User name' },
  password: { zh: '密码', en: 'Password' },
  signIn: { zh: '登录', en: 'Sign in' },
  signingIn: { zh: '登录中…', en: 'Signing in…' },
  signInFailed: { zh: '登录失败', en: 'Sign-in failed' },
  signInOffline: { zh: '离线时无法登录：请在有网络时登录', en: 'You cannot sign in offline: sign in when the network is back' },
  sessionEnded: { zh: '登录已失效，请重新登录；草稿已保存在本机', en: 'Your session has ended: sign in again. Drafts are kept on this phone' },
  // tabs
  tabReport: { zh: '上报', en: 'Report' },
  tabQueue: { zh: '待发送', en: 'Outbox' },
  tabTasks: { zh: '我的任务', en: 'My tasks' },
  // the form
  category: { zh: '案件类别', en: 'Category' },
  kindComponent: { zh: '部件', en: 'Component' },
  kindEvent: { zh: '事件', en: 'Event' },
  major: { zh: '大类', en: 'Class' },
  minor: { zh: '小类', en: 'Sub-class' },
  choose: { zh: '请选择', en: 'Choose' },
  categoriesUnavailable: { zh: '类别未加载：请联网后刷新', en: 'Categories not loaded: reload when online' },
  description: { zh: '问题描述', en: 'Description' },
  descriptionHint: { zh: '发生了什么、在哪里、影响多大', en: 'What is wrong, where, how bad' },
  urgency: { zh: '紧急程度', en: 'Urgency' },
  normal: { zh: '一般', en: 'Normal' },
  urgent: { zh: '紧急', en: 'Urgent' },
  location: { zh: '位置', en: 'Location' },
  locating: { zh: '正在定位…', en: 'Locating…' },
  locate: { zh: '重新定位', en: 'Locate me' },
  locationGps: { zh: 'GPS 定位', en: 'GPS fix' },
  locationMoved: { zh: '已手动调整', en: 'Adjusted by hand' },
  locationNone: { zh: '无法定位：请拖动图钉到问题位置', en: 'No GPS fix: drag the pin to the spot' },
  dragHint: { zh: '拖动图钉或点击地图可修正位置', en: 'Drag the pin or tap the map to correct it' },
  address: { zh: '地址（可选）', en: 'Address (optional)' },
  photos: { zh: '照片', en: 'Photos' },
  addPhoto: { zh: '拍照 / 选照片', en: 'Take / pick photos' },
  removePhoto: { zh: '删除照片', en: 'Remove photo' },
  tooManyPhotos: { zh: '最多 9 张照片', en: 'At most 9 photos' },
  submit: { zh: '提交上报', en: 'Submit report' },
  needCategory: { zh: '请选择案件类别', en: 'Choose a category' },
  needDescription: { zh: '请填写问题描述', en: 'Describe the problem' },
  needLocation: { zh: '请确定位置', en: 'Set the location' },
  sendingNow: { zh: '已保存在本机，正在发送…', en: 'Saved on this phone, sending…' },
  acceptedAs: { zh: '已受理，案件编号 {case}', en: 'Accepted: case {case}' },
  waitingNetwork: { zh: '等待网络：已保存在本机，联网后自动发送', en: 'Waiting for the network: saved on this phone, sent by itself when online' },
  waitingRetry: { zh: '暂未送达，已保存在本机，稍后自动重试', en: 'Not delivered yet: saved on this phone, retried by itself' },
  refusedBecause: { zh: '服务器拒绝了此上报（见“待发送”）', en: 'The server refused this report (see Outbox)' },
  categorySearchHint: { zh: '搜索类别：名称或拼音首字母，如 ld', en: 'Search: name, code or pinyin initials (ld)' },
  categoryNoMatch: { zh: '没有匹配的类别', en: 'No matching category' },
  recentCategories: { zh: '最近使用', en: 'Recent' },
  // the outbox
  queueEmpty: { zh: '没有草稿', en: 'No drafts' },
  queueHint: { zh: '上报先保存在本机，联网后自动发送，每条只发送一次', en: 'Reports are saved on this phone first and sent once when online' },
  sendNow: { zh: '立即发送', en: 'Send now' },
  clearSent: { zh: '清除已发送', en: 'Clear sent' },
  stateQueued: { zh: '待发送', en: 'Waiting' },
  stateSending: { zh: '发送中', en: 'Sending' },
  stateSent: { zh: '已发送', en: 'Sent' },
  stateFailed: { zh: '被拒绝', en: 'Refused' },
  retry: { zh: '重试', en: 'Retry' },
  remove: { zh: '删除', en: 'Delete' },
  confirmRemove: { zh: '删除这条未发送的草稿？', en: 'Delete this unsent draft?' },
  photoCount: { zh: '张照片', en: 'photo(s)' },
  attempts: { zh: '次尝试', en: 'attempt(s)' },
  lastError: { zh: '上次失败', en: 'Last failure' },
  // tasks
  tasksEmpty: { zh: '暂无任务', en: 'No tasks' },
  tasksOffline: { zh: '离线：联网后显示任务', en: 'Offline: tasks show when online' },
  toHandle: { zh: '待处置', en: 'To handle' },
  toVerify: { zh: '待核查', en: 'To verify' },
  myReports: { zh: '我的上报', en: 'My reports' },
  refresh: { zh: '刷新', en: 'Refresh' },
  due: { zh: '时限', en: 'Due' },
  supervised: { zh: '督办', en: 'Supervised' },
  note: { zh: '说明', en: 'Note' },
  noteRequired: { zh: '请填写说明', en: 'A note is required' },
  afterPhoto: { zh: '处置后照片', en: 'After photo' },
  send: { zh: '提交', en: 'Submit' },
  cancel: { zh: '取消', en: 'Cancel' },
  done: { zh: '已完成', en: 'Done' },
  actionFailed: { zh: '操作失败', en: 'Action failed' },
  shareLocation: { zh: '上报我的位置（每分钟）', en: 'Share my position (every minute)' },
  positionSent: { zh: '位置已上报', en: 'Position sent' },
  // actions
  act_accept: { zh: '签收', en: 'Accept' },
  act_start: { zh: '开始处置', en: 'Start' },
  act_handle: { zh: '处置完毕', en: 'Handled' },
  act_return: { zh: '退回', en: 'Return' },
  act_request_extension: { zh: '申请延期', en: 'Ask for more time' },
  act_confirm: { zh: '核查通过', en: 'Confirm' },
  act_rework: { zh: '返工', en: 'Rework' },
  // states
  st_reported: { zh: '已上报', en: 'Reported' },
  st_filed: { zh: '已立案', en: 'Filed' },
  st_voided: { zh: '已作废', en: 'Voided' },
  st_dispatched: { zh: '已派遣', en: 'Dispatched' },
  st_accepted: { zh: '已签收', en: 'Accepted' },
  st_in_progress: { zh: '处置中', en: 'In progress' },
  st_handled: { zh: '已处置', en: 'Handled' },
  st_verifying: { zh: '核查中', en: 'Verifying' },
  st_closed: { zh: '已结案', en: 'Closed' },
  st_returned: { zh: '已退回', en: 'Returned' },
  st_parked: { zh: '挂账', en: 'Parked' },
  // 我的网格 (the households of the worker's cells, changes from the field)
  tabGrid: { zh: '我的网格', en: 'My grid' },
  gridHint: { zh: '本人网格内的住户（身份信息已脱敏）。走访与变更先存本机，联网后发送一次。', en: 'Households of your cells (identities masked). Visits and changes are saved on the phone first and sent once when online.' },
  gridCells: { zh: '我的网格', en: 'My cells' },
  gridNoCells: { zh: '没有分配给您的网格', en: 'No cells are assigned to you' },
  gridUnavailable: { zh: '未能加载：请联网后刷新', en: 'Not loaded: refresh when online' },
  gridCached: { zh: '离线：显示上次加载的内容', en: 'Offline: showing what was loaded last' },
  households: { zh: '户', en: 'households' },
  residents: { zh: '人', en: 'residents' },
  membersOf: { zh: '成员', en: 'Members' },
  back: { zh: '返回', en: 'Back' },
  more: { zh: '加载更多', en: 'Load more' },
  head: { zh: '户主', en: 'Head' },
  age: { zh: '岁', en: 'y' },
  ch_visit: { zh: '走访', en: 'Visit' },
  ch_move_in: { zh: '迁入', en: 'Moved in' },
  ch_move_out: { zh: '迁出', en: 'Moved out' },
  ch_correction: { zh: '更正', en: 'Correction' },
  ch_death: { zh: '死亡', en: 'Death' },
  recordVisit: { zh: '记录走访', en: 'Record a visit' },
  reportMoveIn: { zh: '新住户迁入', en: 'New resident' },
  chTo: { zh: '迁往（可选）', en: 'Moved to (optional)' },
  chField: { zh: '更正项', en: 'Field' },
  chValue: { zh: '正确的值', en: 'Correct value' },
  chDate: { zh: '日期', en: 'Date' },
  chName: { zh: '姓名', en: 'Name' },
  chCitizenId: { zh: '公民身份号码', en: 'Citizen ID' },
  chSex: { zh: '性别', en: 'Sex' },
  chBirth: { zh: '出生日期', en: 'Birth date' },
  chRelation: { zh: '与户主关系', en: 'Relation to head' },
  chNote: { zh: '备注', en: 'Note' },
  chSave: { zh: '保存并发送', en: 'Save and send' },
  chCancel: { zh: '取消', en: 'Cancel' },
  chSaved: { zh: '已保存在本机，联网后发送', en: 'Saved on the phone; sent when online' },
  chSent: { zh: '已发送', en: 'Sent' },
  chBadId: { zh: '身份号码应为18位（17位数字加校验位）', en: 'An ID has 18 characters: 17 digits and a check character' },
  field_name: { zh: '姓名', en: 'Name' },
  field_phone: { zh: '电话', en: 'Phone' },
  field_ethnicity: { zh: '民族', en: 'Ethnicity' },
  field_relation: { zh: '与户主关系', en: 'Relation' },
  myChanges: { zh: '我的变更', en: 'My changes' },
  myChangesEmpty: { zh: '尚无变更', en: 'No changes yet' },
  cs_recorded: { zh: '已记录', en: 'Recorded' },
  cs_pending: { zh: '待确认', en: 'Pending' },
  cs_accepted: { zh: '已确认', en: 'Accepted' },
  cs_rejected: { zh: '已退回', en: 'Rejected' },
  ps_resident: { zh: '常住', en: 'Resident' },
  ps_registered_elsewhere: { zh: '户籍在外', en: 'Registered elsewhere' },
  ps_moved: { zh: '已迁出', en: 'Moved' },
  ps_deceased: { zh: '已故', en: 'Deceased' },
} as const;

export type Key = keyof typeof STRINGS;

export function lang(): Lang {
  return getLang();
}

export function onLang(listener: () => void): void {
  onLangChange(() => listener());
}

export function t(key: Key): string {
  return STRINGS[key][getLang()];
}

/** A string key that may not exist (built from server values such as a state name). */
export function tMaybe(key: string, fallback: string): string {
  const entry = (STRINGS as Record<string, { zh: string; en: string }>)[key];
  return entry ? entry[getLang()] : fallback;
}

/** Sets the texts of `[data-t]` (textContent), `[data-t-ph]` (placeholder), `[data-t-title]`. */
export function applyTexts(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>('[data-t]').forEach((node) => {
    node.textContent = t(node.dataset.t as Key);
  });
  root.querySelectorAll<HTMLInputElement>('[data-t-ph]').forEach((node) => {
    node.placeholder = t(node.dataset.tPh as Key);
  });
  root.querySelectorAll<HTMLElement>('[data-t-title]').forEach((node) => {
    node.title = t(node.dataset.tTitle as Key);
    node.setAttribute('aria-label', node.title);
  });
}

