/**
 * Every string of the console, in Chinese first and English second, and the current language.
 * The catalog brings its own bilingual titles ({zh, en}); `pick` chooses from those.
 */

import { getLang, type Lang } from './lang';

export { getLang, onLangChange, setLang, type Lang } from './lang';

export interface Bilingual {
  zh: string;
  en: string;
}

const STRINGS = {
  appTitle: { zh: '泗县城市综合运行管理平台', en: 'Sixian City Operations Center' },
  appSubtitle: { zh: 'Sixian City Operations Center', en: '泗县城市综合运行管理平台' },
  langToggle: { zh: 'EN', en: '中' },
  langToggleTitle: { zh: 'Switch to English', en: '切换到中文' },
  serverOk: { zh: '服务正常', en: 'Server OK' },
  serverDown: { zh: '服务异常', en: 'Server unreachable' },
  serverChecking: { zh: '连接中…', en: 'Connecting…' },
  serverDownToast: { zh: '无法连接服务器', en: 'Cannot reach the server' },
  serverBackToast: { zh: '服务器已恢复连接', en: 'Server reachable again' },
  layers: { zh: '图层', en: 'Layers' },
  layersLoading: { zh: '正在加载图层目录…', en: 'Loading the layer catalog…' },
  layersEmpty: { zh: '没有可显示的图层', en: 'No layers to show' },
  collapsePanel: { zh: '收起图层面板', en: 'Hide the layer panel' },
  expandPanel: { zh: '展开图层面板', en: 'Show the layer panel' },
  synthetic: { zh: '示意', en: 'synthetic' },
  syntheticTitle: { zh: '示意数据（生成数据，非真实）', en: 'Synthetic data (generated, not real)' },
  syntheticAttribution: { zh: '示意数据 / synthetic data', en: '示意数据 / synthetic data' },
  zoomIn: { zh: '放大后显示', en: 'zoom in to see' },
  zoomOut: { zh: '缩小后显示', en: 'zoom out to see' },
  catalogFailed: { zh: '图层目录加载失败', en: 'The layer catalog failed to load' },
  retry: { zh: '重试', en: 'Retry' },
  close: { zh: '关闭', en: 'Close' },
  mapError: { zh: '地图数据加载失败', en: 'Map data failed to load' },
  view2d: { zh: '2D', en: '2D' },
  view3d: { zh: '3D', en: '3D' },
  view2dTitle: { zh: '平面视图', en: 'Flat view' },
  view3dTitle: { zh: '三维视图（建筑立体显示）', en: '3D view (buildings stand up)' },
  home: { zh: '全县', en: 'County' },
  homeTitle: { zh: '回到全县视图', en: 'Back to the whole county' },
  alsoHere: { zh: '此处还有：', en: 'Also here: ' },
  noAttributes: { zh: '无属性', en: 'No attributes' },
  yes: { zh: '是', en: 'yes' },
  no: { zh: '否', en: 'no' },
  department: { zh: '责任部门', en: 'Department' },
  // imagery, terrain, underground (issue 9)
  imageryBase: { zh: '影像底图', en: 'Imagery' },
  imageryBaseTitle: { zh: '在所有矢量图层之下显示正射影像', en: 'Show the orthophoto under every vector layer' },
  opacity: { zh: '透明度', en: 'Opacity' },
  liveBadge: { zh: '实时', en: 'live' },
  noData: { zh: '暂无数据', en: 'no data' },
  noDataTitle: { zh: '尚未导入该图层的栅格文件（cityops ingest）', en: 'No raster file loaded for this layer yet (cityops ingest)' },
  underground: { zh: '地下', en: 'Underground' },
  undergroundOnTitle: { zh: '地表半透明，显示埋设深度处的地下管线', en: 'See-through ground: show the pipelines at their depth' },
  undergroundOffTitle: { zh: '恢复不透明地表', en: 'Make the ground opaque again' },
  relief: { zh: '高程夸大', en: 'Relief' },
  reliefTitle: {
    zh: '地形高程与管线埋深均放大 {n} 倍显示（建筑为实际高度）',
    en: 'Terrain heights and pipe depths drawn {n} times their true size (buildings at true height)',
  },
  pipesFailed: { zh: '地下管线三维数据加载失败', en: 'The 3D pipelines failed to load' },
  pipesTruncated: { zh: '此范围管线过多，仅显示一部分', en: 'Too many pipes here: only some are shown' },
  pipesTruncatedHint: { zh: '放大地图可显示全部管线', en: 'Zoom in to see them all' },
  // live connection
  liveConnected: { zh: '实时在线', en: 'Live' },
  liveConnecting: { zh: '实时连接中…', en: 'Connecting live…' },
  liveReconnecting: { zh: '实时重连中…', en: 'Reconnecting live…' },
  liveUnauthorized: { zh: '实时未授权', en: 'Live: not signed in' },
  liveTitle: { zh: '实时数据连接（车辆位置、报警）', en: 'Live data connection (vehicle positions, alarms)' },
  // buses
  busStatusNormal: { zh: '正常', en: 'Normal' },
  busStatusAlarm: { zh: '报警', en: 'Alarm' },
  busStatusOffline: { zh: '离线', en: 'Offline' },
  busLine: { zh: '线路', en: 'Line' },
  busPlate: { zh: '车牌', en: 'Plate' },
  busSpeed: { zh: '速度', en: 'Speed' },
  busSpeedLast: { zh: '最后速度', en: 'Last known speed' },
  busHeading: { zh: '航向', en: 'Heading' },
  busStatus: { zh: '状态', en: 'Status' },
  busDirection: { zh: '方向', en: 'Direction' },
  busOutbound: { zh: '上行', en: 'Outbound' },
  busInbound: { zh: '下行', en: 'Inbound' },
  busNextStop: { zh: '下一站', en: 'Next stop' },
  busEta: { zh: '预计到站', en: 'ETA' },
  busLastFix: { zh: '最后定位', en: 'Last fix' },
  busAlarms: { zh: '当前报警', en: 'Active alarms' },
  busDetailsUnavailable: { zh: '车辆详情暂不可用', en: 'Vehicle details not available' },
  busesUnavailable: { zh: '车辆列表暂不可用', en: 'Vehicle list not available' },
  loading: { zh: '加载中…', en: 'Loading…' },
  // alarms
  alarms: { zh: '车辆报警', en: 'Vehicle alarms' },
  alarmsEmpty: { zh: '当前无报警', en: 'No active alarms' },
  alarmsUnavailable: { zh: '报警列表暂不可用', en: 'Alarm list not available' },
  alarmsFailed: { zh: '报警列表加载失败', en: 'The alarm list failed to load' },
  collapseAlarms: { zh: '收起报警面板', en: 'Hide the alarm panel' },
  expandAlarms: { zh: '展开报警面板', en: 'Show the alarm panel' },
  ack: { zh: '确认', en: 'Acknowledge' },
  clearAlarm: { zh: '解除', en: 'Clear' },
  cancel: { zh: '取消', en: 'Cancel' },
  notePlaceholder: { zh: '备注（可选）', en: 'Note (optional)' },
  acknowledgedBy: { zh: '已确认', en: 'Acknowledged' },
  ackFailed: { zh: '确认报警失败', en: 'Could not acknowledge the alarm' },
  clearFailed: { zh: '解除报警失败', en: 'Could not clear the alarm' },
  criticalAlarm: { zh: '紧急报警', en: 'Critical alarm' },
  flyTo: { zh: '点击定位到地图', en: 'Click to show it on the map' },
  // replay
  replay: { zh: '轨迹回放', en: 'Replay' },
  replayTitle: { zh: '按线路回放车辆轨迹', en: 'Replay the buses of a line' },
  replayLine: { zh: '线路', en: 'Line' },
  replayFrom: { zh: '开始', en: 'From' },
  replayTo: { zh: '结束', en: 'To' },
  replayLoad: { zh: '加载', en: 'Load' },
  replayLoading: { zh: '正在加载回放…', en: 'Loading the replay…' },
  replayPlay: { zh: '播放', en: 'Play' },
  replayPause: { zh: '暂停', en: 'Pause' },
  replaySpeed: { zh: '倍速', en: 'Speed' },
  replayClose: { zh: '退出回放', en: 'Leave replay' },
  replayUnavailable: { zh: '轨迹回放暂不可用', en: 'Replay not available' },
  replayFailed: { zh: '回放加载失败', en: 'The replay failed to load' },
  replayEmpty: { zh: '该时段没有车辆轨迹', en: 'No tracks in this window' },
  replayBadWindow: { zh: '请选择不超过24小时的时间段', en: 'Choose a window of at most 24 hours' },
  replayVehicles: { zh: '辆车', en: 'buses' },
  replayAlarms: { zh: '条报警', en: 'alarms' },
  linesUnavailable: { zh: '线路列表暂不可用', en: 'Line list not available' },
  // login
  signIn: { zh: '登录', en: 'Sign in' },
  signingIn: { zh: '登录中…', en: 'Signing in…' },
  username: { zh: '用户名', en: 'User name' },
  password: { zh: '密码', en: 'Password' },
  signInFailed: { zh: '登录失败', en: 'Sign-in failed' },
  signOut: { zh: '退出', en: 'Sign out' },
  signOutTitle: { zh: '退出登录', en: 'Sign out' },
  sessionExpired: { zh: '登录已失效，请重新登录', en: 'Your session has ended: please sign in again' },
  // dispatch desk (src/desk)
  desk: { zh: '调度台', en: 'Desk' },
  deskToggleTitle: { zh: '案件调度台：队列、派遣、周边资源', en: 'Dispatch desk: the queue, dispatching, what is nearby' },
  deskQueue: { zh: '案件调度', en: 'Dispatch desk' },
  deskEmpty: { zh: '当前没有在办案件', en: 'No open cases' },
  deskNoMatch: { zh: '没有符合条件的案件', en: 'No case matches' },
  deskUnavailable: { zh: '案件队列暂不可用', en: 'The case queue is not available' },
  deskFailed: { zh: '案件队列加载失败', en: 'The case queue failed to load' },
  deskBack: { zh: '返回队列', en: 'Back to the queue' },
  deskClose: { zh: '关闭调度台', en: 'Close the desk' },
  deskLocate: { zh: '地图定位', en: 'Show on map' },
  deskAll: { zh: '全部', en: 'All' },
  deskToDispatch: { zh: '待派遣', en: 'To dispatch' },
  deskInHand: { zh: '处置中', en: 'In hand' },
  deskOverdue: { zh: '超时', en: 'Overdue' },
  deskSupervised: { zh: '督办', en: 'Supervised' },
  deskUrgent: { zh: '紧急', en: 'Urgent' },
  deskOpen: { zh: '在办', en: 'Open' },
  deskToFile: { zh: '待立案', en: 'To file' },
  deskClosedToday: { zh: '今日结案', en: 'Closed today' },
  deskExtensionPending: { zh: '延期待批', en: 'Extension asked' },
  caseCategory: { zh: '类别', en: 'Category' },
  casePlace: { zh: '位置', en: 'Place' },
  caseDepartment: { zh: '责任单位', en: 'Unit' },
  caseAssignee: { zh: '处置人', en: 'Assignee' },
  caseReported: { zh: '上报', en: 'Reported' },
  caseStageClock: { zh: '时限', en: 'Time limit' },
  caseDue: { zh: '结案期限', en: 'Case due' },
  caseTimeline: { zh: '办理过程', en: 'Timeline' },
  photoMissing: { zh: '照片暂不可用', en: 'Photo not available' },
  photoMissingShort: { zh: '照片缺失', en: 'No photo' },
  caseNoActions: { zh: '当前没有您可执行的操作', en: 'Nothing for you to do on this case now' },
  caseNextActor: { zh: '下一步', en: 'Next' },
  casePhoto: { zh: '现场照片', en: 'Photo from the scene' },
  positionUnknown: { zh: '位置未知', en: 'position unknown' },
  lastSeen: { zh: '最后定位', en: 'last seen' },
  caseLoadFailed: { zh: '案件详情加载失败', en: 'The case failed to load' },
  dispatchTo: { zh: '派往单位', en: 'Department' },
  dispatchAssignee: { zh: '指派网格员', en: 'Assign a grid worker' },
  dispatchNoAssignee: { zh: '不指定（由单位处置）', en: 'Nobody (the unit handles it)' },
  noteRequired: { zh: '说明（必填）', en: 'Note (required)' },
  noteOptional: { zh: '说明（可选）', en: 'Note (optional)' },
  extensionHours: { zh: '延期工时（小时）', en: 'Extra working hours' },
  verifierOptional: { zh: '核查人用户名（可选，默认上报人）', en: 'Verifier user name (optional; the reporter by default)' },
  submit: { zh: '提交', en: 'Submit' },
  actionFailed: { zh: '操作失败', en: 'The action failed' },
  nearby: { zh: '周边资源', en: 'Nearby' },
  nearbyRadius: { zh: '监控范围', en: 'Camera radius' },
  nearbyWorkers: { zh: '网格员', en: 'Grid workers' },
  nearbyVehicles: { zh: '车辆', en: 'Vehicles' },
  nearbyCameras: { zh: '能看到此处的摄像机', en: 'Cameras that can see this' },
  presetNo: { zh: '预置位', en: 'preset' },
  coverageShare: { zh: '覆盖', en: 'covers' },
  camerasBlocked: { zh: '台在范围内但被建筑遮挡', en: 'more in range, blocked by buildings' },
  playCamera: { zh: '播放', en: 'Play' },
  playCameraTitle: { zh: '在视频窗口播放实时视频', en: 'Play the live video in a video panel' },
  nearbyNone: { zh: '附近暂无', en: 'None nearby' },
  nearbyWithheld: { zh: '无权查看', en: 'Not shown for your role' },
  nearbyFailed: { zh: '周边资源加载失败', en: 'Nearby resources failed to load' },
  inCaseGrid: { zh: '本网格', en: 'this grid' },
  openCases: { zh: '在办', en: 'open' },
  // case KPIs (src/desk/kpiPanel.ts)
  kpi: { zh: '绩效', en: 'KPIs' },
  kpiTitle: { zh: '案件绩效', en: 'Case KPIs' },
  kpiToggleTitle: { zh: '结案率、按期结案率、返工率、延期率', en: 'Closure, on-time, rework and extension rates' },
  kpiClose: { zh: '关闭绩效面板', en: 'Close the KPIs' },
  kpiToday: { zh: '今日', en: 'Today' },
  kpiMonth: { zh: '本月', en: 'This month' },
  kpiClosedRate: { zh: '结案率', en: 'Closure rate' },
  kpiOnTimeRate: { zh: '按期结案率', en: 'On-time closure' },
  kpiReworkRate: { zh: '返工率', en: 'Rework rate' },
  kpiExtensionRate: { zh: '延期率', en: 'Extension rate' },
  kpiByDepartment: { zh: '按责任单位（本月）', en: 'By department (this month)' },
  kpiByGrid: { zh: '按网格（本月）', en: 'By grid (this month)' },
  kpiName: { zh: '名称', en: 'Name' },
  kpiFiled: { zh: '立案', en: 'Filed' },
  kpiClosed: { zh: '结案', en: 'Closed' },
  kpiWindowNote: { zh: '按立案时间统计，比率分母为 0 时显示“—”', en: 'Counted by filing time; “—” where there is nothing to divide by' },
  kpiFailed: { zh: '绩效数据加载失败', en: 'The KPIs failed to load' },
  kpiEmpty: { zh: '该时段没有立案', en: 'Nothing filed in this window' },
} satisfies Record<string, Bilingual>;

export type StringKey = keyof typeof STRINGS;

/** The other language: shown small beneath the main one. */
export function otherLang(lang: Lang = getLang()): Lang {
  return lang === 'zh' ? 'en' : 'zh';
}

/** A console string in the current (or given) language. */
export function t(key: StringKey, lang: Lang = getLang()): string {
  return STRINGS[key][lang];
}

/** Chooses from a bilingual text of the catalog, falling back to the other language. */
export function pick(text: Bilingual | null | undefined, lang: Lang = getLang()): string {
  if (!text) return '';
  return text[lang] || text[otherLang(lang)] || '';
}

/** BCP 47 locale for number and date formatting. */
export function locale(lang: Lang = getLang()): string {
  return lang === 'zh' ? 'zh-CN' : 'en-GB';
}

