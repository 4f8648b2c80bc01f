/**
 * The data center's strings, Chinese first and English second; the language choice is the one
 * of every page of this origin (../lang: localStorage, `?lang=en`). Enumerations of the catalog
 * (share types, update cycles, arrivals, statuses, dimensions) are labelled here too.
 */

import { getLang, type Lang } from '../lang';

export { getLang, onLangChange, setLang, type Lang } from '../lang';

interface Pair {
  zh: string;
  en: string;
}

const STRINGS = {
  pageTitle: { zh: '数据资源中心', en: 'Data center' },
  backToConsole: { zh: '返回地图', en: 'Back to the map' },
  tabCatalog: { zh: '目录', en: 'Catalog' },
  tabDepartment: { zh: '本部门', en: 'My department' },
  tabBureau: { zh: '数据局', en: 'Data bureau' },
  tabRequests: { zh: '我的申请', en: 'My requests' },
  tabChanges: { zh: '变更确认', en: 'Changes to confirm' },
  loading: { zh: '加载中…', en: 'Loading…' },
  loadFailed: { zh: '加载失败', en: 'Failed to load' },
  notAllowed: { zh: '您的角色无权查看此页', en: 'Your role may not see this page' },
  none: { zh: '暂无', en: 'None' },
  retry: { zh: '重试', en: 'Retry' },
  // catalog
  departments: { zh: '部门', en: 'Departments' },
  allDepartments: { zh: '全部部门', en: 'All departments' },
  search: { zh: '搜索数据资源（名称、摘要、关键词、信息项）', en: 'Search datasets (name, summary, keywords, fields)' },
  searchLabel: { zh: '搜索', en: 'Search' },
  shareType: { zh: '共享类型', en: 'Share type' },
  updateCycle: { zh: '更新周期', en: 'Update cycle' },
  hasLayer: { zh: '有地图图层', en: 'Has a map layer' },
  classCode: { zh: '分类', en: 'Class' },
  any: { zh: '不限', en: 'Any' },
  results: { zh: '条结果', en: 'results' },
  noResults: { zh: '没有符合条件的数据资源', en: 'No dataset matches' },
  prev: { zh: '上一页', en: 'Previous' },
  next: { zh: '下一页', en: 'Next' },
  page: { zh: '页', en: 'page' },
  score: { zh: '质量评分', en: 'Quality score' },
  failing: { zh: '项检查未通过', en: 'failing checks' },
  failingHead: { zh: '未通过检查', en: 'Failing checks' },
  dataset: { zh: '数据资源', en: 'Dataset' },
  noScore: { zh: '未评分', en: 'no score' },
  mapLayer: { zh: '地图图层', en: 'Map layer' },
  synthetic: { zh: '示意', en: 'synthetic' },
  syntheticTitle: { zh: '示意数据（生成的元数据或内容，非真实）', en: 'Synthetic (generated metadata or content, not real)' },
  // dataset page
  backToCatalog: { zh: '返回目录', en: 'Back to the catalog' },
  metadata: { zh: '元数据', en: 'Metadata' },
  resourceCode: { zh: '信息资源代码', en: 'Resource code' },
  department: { zh: '提供部门', en: 'Provider' },
  summary: { zh: '摘要', en: 'Summary' },
  classification: { zh: '分类（类/项/目/细目）', en: 'Classification' },
  format: { zh: '资源格式', en: 'Format' },
  shareCondition: { zh: '共享条件', en: 'Share condition' },
  shareMethod: { zh: '共享方式', en: 'Share method' },
  openType: { zh: '开放属性', en: 'Open attribute' },
  publishedOn: { zh: '发布日期', en: 'Published on' },
  lastUpdated: { zh: '最近更新', en: 'Last updated' },
  related: { zh: '关联资源', en: 'Related resources' },
  keywords: { zh: '关键词', en: 'Keywords' },
  annexNo: { zh: '附件序号', en: 'Annex row' },
  storage: { zh: '存储', en: 'Storage' },
  openOnMap: { zh: '在地图上查看', en: 'Show on the map' },
  fields: { zh: '信息项', en: 'Fields' },
  fieldName: { zh: '字段名', en: 'Name' },
  fieldZh: { zh: '中文名', en: 'Chinese name' },
  fieldType: { zh: '类型', en: 'Type' },
  required: { zh: '必填', en: 'Required' },
  personal: { zh: '个人信息', en: 'Personal' },
  authority: { zh: '一数一源', en: 'Authoritative source' },
  link: { zh: '关联', en: 'Link' },
  description: { zh: '说明', en: 'Description' },
  versions: { zh: '版本', en: 'Versions' },
  seq: { zh: '序号', en: 'Seq' },
  status: { zh: '状态', en: 'Status' },
  arrival: { zh: '来源方式', en: 'Arrival' },
  mode: { zh: '模式', en: 'Mode' },
  source: { zh: '来源', en: 'Source' },
  createdAt: { zh: '时间', en: 'At' },
  createdBy: { zh: '操作人', en: 'By' },
  rowsTotal: { zh: '总行数', en: 'Rows' },
  rowsAdded: { zh: '新增', en: 'Added' },
  rowsChanged: { zh: '变更', en: 'Changed' },
  rowsRemoved: { zh: '删除', en: 'Removed' },
  rowsRejected: { zh: '拒收', en: 'Rejected' },
  current: { zh: '当前', en: 'current' },
  makeCurrent: { zh: '设为当前', en: 'Make current' },
  rollbackConfirm: { zh: '将当前版本切换到第 {n} 版？', en: 'Make version {n} the current one?' },
  rolledBack: { zh: '当前版本已切换', en: 'The current version was changed' },
  quality: { zh: '质量检查', en: 'Quality checks' },
  runQuality: { zh: '立即检查', en: 'Run the checks' },
  noRun: { zh: '尚未检查', en: 'Not checked yet' },
  lastRun: { zh: '最近检查', en: 'Last run' },
  rowsChecked: { zh: '检查行数', en: 'rows checked' },
  dimension: { zh: '维度', en: 'Dimension' },
  ruleKind: { zh: '规则', en: 'Rule' },
  blocking: { zh: '阻断', en: 'Blocking' },
  checked: { zh: '检查', en: 'Checked' },
  failed: { zh: '未通过', en: 'Failed' },
  passed: { zh: '通过', en: 'Passed' },
  result: { zh: '结果', en: 'Result' },
  samples: { zh: '样例', en: 'Samples' },
  key: { zh: '主键', en: 'Key' },
  value: { zh: '值', en: 'Value' },
  reason: { zh: '原因', en: 'Reason' },
  scoreTitle: { zh: '评分', en: 'Score' },
  total: { zh: '总分', en: 'Total' },
  trend30: { zh: '近30日趋势', en: 'Last 30 days' },
  request: { zh: '申请数据', en: 'Request the data' },
  requestTitle: { zh: '数据共享申请', en: 'Data request' },
  purpose: { zh: '用途（必填）', en: 'Purpose (required)' },
  purposeShort: { zh: '用途', en: 'Purpose' },
  fieldsNeeded: { zh: '所需信息项', en: 'Fields needed' },
  periodDays: { zh: '使用期限（天）', en: 'Period (days)' },
  submit: { zh: '提交', en: 'Submit' },
  cancel: { zh: '取消', en: 'Cancel' },
  requestSent: { zh: '申请已提交', en: 'Request submitted' },
  requestNone: { zh: '不予共享：申请将被依规退回，除非数据局提请协调', en: 'Not shared: the request will be refused under the rule unless the bureau escalates' },
  subscribe: { zh: '订阅变更', en: 'Subscribe' },
  subscribed: { zh: '已订阅', en: 'Subscribed' },
  subscribeTitle: { zh: '数据更新时通知我', en: 'Tell me when the data changes' },
  changes: { zh: '变更记录', en: 'Changes' },
  noChanges: { zh: '暂无变更', en: 'No changes yet' },
  preview: { zh: '数据预览', en: 'Data preview' },
  download: { zh: '下载', en: 'Download' },
  noAccess: { zh: '您尚无该数据的使用授权：可提交申请', en: 'You have no grant for this data: request it' },
  liveChanged: { zh: '订阅的数据已更新', en: 'A subscribed dataset changed' },
  // department page
  myDepartment: { zh: '本部门', en: 'Department' },
  rank: { zh: '排名', en: 'Rank' },
  datasets: { zh: '数据资源', en: 'Datasets' },
  upload: { zh: '上传新版本', en: 'Upload a version' },
  uploadHint: { zh: 'CSV、XLSX、GeoJSON、GeoPackage、Shapefile(zip)', en: 'CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile' },
  uploading: { zh: '上传中…', en: 'Uploading…' },
  uploaded: { zh: '已接收', en: 'Accepted' },
  uploadRefused: { zh: '已拒收', en: 'Refused' },
  rejectedRows: { zh: '拒收行', en: 'Rejected rows' },
  row: { zh: '行', en: 'Row' },
  field: { zh: '字段', en: 'Field' },
  requestsToAnswer: { zh: '待答复的申请', en: 'Requests to answer' },
  approve: { zh: '同意', en: 'Approve' },
  refuse: { zh: '拒绝', en: 'Refuse' },
  reasonRequired: { zh: '理由（拒绝时必填）', en: 'Reason (required to refuse)' },
  reasonMissing: { zh: '请填写理由', en: 'Give a reason' },
  tasks: { zh: '质量整改任务', en: 'Quality tasks' },
  due: { zh: '期限', en: 'Due' },
  markFixed: { zh: '已整改', en: 'Fixed' },
  dismiss: { zh: '不予整改', en: 'Dismiss' },
  overdueUpdates: { zh: '逾期未更新', en: 'Overdue updates' },
  dueSince: { zh: '应更新于', en: 'Due since' },
  chooseDepartment: { zh: '选择部门', en: 'Choose a department' },
  noDepartment: { zh: '您的账号未关联部门', en: 'Your account has no department' },
  // bureau
  ranking: { zh: '部门评分排名', en: 'Department ranking' },
  name: { zh: '名称', en: 'Name' },
  openTasks: { zh: '整改任务', en: 'Open tasks' },
  openRequests: { zh: '待办申请', en: 'Open requests' },
  overdueRequests: { zh: '超期申请', en: 'Overdue requests' },
  withData: { zh: '有数据', en: 'with data' },
  average: { zh: '平均分', en: 'Average' },
  pass: { zh: '通过', en: 'Pass' },
  sendBack: { zh: '退回', en: 'Refuse' },
  escalate: { zh: '提请协调', en: 'Escalate' },
  // requests
  requester: { zh: '申请人', en: 'Requester' },
  provider: { zh: '提供部门', en: 'Provider' },
  period: { zh: '期限', en: 'Period' },
  days: { zh: '天', en: 'days' },
  bureauDue: { zh: '数据局审核期限', en: 'Bureau check due' },
  providerDue: { zh: '提供部门答复期限', en: 'Provider answer due' },
  grant: { zh: '授权期', en: 'Grant' },
  steps: { zh: '办理过程', en: 'Steps' },
  withdraw: { zh: '撤回', en: 'Withdraw' },
  overdue: { zh: '已超期', en: 'overdue' },
  dueIn: { zh: '剩余', en: 'due in' },
  hours: { zh: '小时', en: 'h' },
  dayUnit: { zh: '天', en: 'd' },
  done: { zh: '已完成', en: 'Done' },
  actionFailed: { zh: '操作失败', en: 'The action failed' },
  noRequests: { zh: '暂无申请', en: 'No requests' },
  // population (人口库)
  tabPeople: { zh: '人口库', en: 'Population' },
  peopleTitle: { zh: '人口查询', en: 'Find a person' },
  peoplePickPurpose: { zh: '请选择查询事由', en: 'Choose a purpose' },
  peoplePurposeWhy: { zh: '查询前须说明事由：完整信息只为所选事由显示，每次查看都会记入此人的访问记录。', en: 'State a purpose first: full details are shown only for it, and every look is recorded in the person\'s access log.' },
  peopleNoPurpose: { zh: '您的角色没有可用的查询事由：只能查看脱敏信息。', en: 'Your role has no purpose to state: you see masked details only.' },
  peopleQuery: { zh: '身份证号（18位）或姓名', en: 'Citizen ID (18 characters) or name' },
  peopleName: { zh: '姓名', en: 'Name' },
  peopleId: { zh: '公民身份号码', en: 'Citizen ID' },
  peopleSex: { zh: '性别', en: 'Sex' },
  peopleAge: { zh: '年龄', en: 'Age' },
  peopleBirth: { zh: '出生日期', en: 'Born' },
  peopleEthnicity: { zh: '民族', en: 'Ethnicity' },
  peoplePhone: { zh: '联系电话', en: 'Phone' },
  peopleRegistered: { zh: '户籍地', en: 'Registered residence' },
  peopleAddress: { zh: '居住地', en: 'Residence' },
  peopleGrid: { zh: '网格', en: 'Grid cell' },
  peopleTownship: { zh: '乡镇', en: 'Township' },
  peopleStatus: { zh: '状态', en: 'Status' },
  peopleRelation: { zh: '与户主关系', en: 'Relation to head' },
  peopleHousehold: { zh: '户', en: 'Household' },
  peopleSource: { zh: '来源', en: 'Source' },
  peopleSourceVersion: { zh: '数据版本', en: 'version' },
  peopleRecord: { zh: '人员信息', en: 'Record' },
  peoplePurpose: { zh: '查询事由', en: 'Purpose' },
  peopleAudited: { zh: '本次查看已记录', en: 'this look is recorded' },
  peopleMaskedNote: { zh: '未说明事由：信息已脱敏。', en: 'No purpose stated: details are masked.' },
  peopleVersions: { zh: '历史版本', en: 'Versions' },
  peopleVersion: { zh: '版本', en: 'Version' },
  peopleValidFrom: { zh: '生效时间', en: 'Valid from' },
  peopleMadeBy: { zh: '来源/操作人', en: 'Made by' },
  peopleWhoLooked: { zh: '谁查看过此人', en: 'Who looked at this person' },
  peopleAt: { zh: '时间', en: 'When' },
  peopleActor: { zh: '查看人', en: 'Who' },
  peopleKind: { zh: '方式', en: 'Kind' },
  peopleFields: { zh: '查看的信息项', en: 'Fields seen' },
  status_resident: { zh: '常住', en: 'Resident' },
  status_registered_elsewhere: { zh: '户籍在外', en: 'Registered elsewhere' },
  status_moved: { zh: '已迁出', en: 'Moved away' },
  status_deceased: { zh: '已死亡', en: 'Deceased' },
} satisfies Record<string, Pair>;

export type Key = keyof typeof STRINGS;

/** Whether `value` is a key of the string table. */
export function isKey(value: string): value is Key {
  return Object.prototype.hasOwnProperty.call(STRINGS, value);
}

export function s(key: Key, lang: Lang = getLang()): string {
  return STRINGS[key][lang];
}

/** `s(key)` with `{n}` replaced. */
export function sf(key: Key, n: string | number): string {
  return s(key).replace('{n}', String(n));
}

const ENUMS: Record<string, Record<string, Pair>> = {
  share_type: {
    unconditional: { zh: '无条件共享', en: 'Unconditional' },
    conditional: { zh: '有条件共享', en: 'Conditional' },
    none: { zh: '不予共享', en: 'Not shared' },
  },
  open_type: {
    open: { zh: '开放', en: 'Open' },
    conditional: { zh: '有条件开放', en: 'Conditionally open' },
    closed: { zh: '不开放', en: 'Closed' },
  },
  update_cycle: {
    realtime: { zh: '实时', en: 'Real time' },
    daily: { zh: '每日', en: 'Daily' },
    weekly: { zh: '每周', en: 'Weekly' },
    monthly: { zh: '每月', en: 'Monthly' },
    quarterly: { zh: '每季度', en: 'Quarterly' },
    half_yearly: { zh: '每半年', en: 'Half-yearly' },
    yearly: { zh: '每年', en: 'Yearly' },
    irregular: { zh: '不定期', en: 'Irregular' },
  },
  arrival: {
    file: { zh: '文件', en: 'File' },
    push: { zh: '推送', en: 'Push' },
    exchange: { zh: '库表交换', en: 'Table exchange' },
    generator: { zh: '生成', en: 'Generated' },
    layer: { zh: '图层', en: 'Layer' },
  },
  // data_request_steps.action (backend/sharing/rules.py STEP_NAMES, service.py)
  request_step: {
    created: { zh: '提出申请', en: 'Requested' },
    refused: { zh: '按规则不予共享', en: 'Refused by the rule' },
    bureau_passed: { zh: '数据局审核通过', en: 'Passed by the bureau' },
    bureau_refused: { zh: '数据局退回', en: 'Refused by the bureau' },
    approved: { zh: '提供部门同意', en: 'Approved by the provider' },
    provider_refused: { zh: '提供部门拒绝', en: 'Refused by the provider' },
    escalated: { zh: '提请协调', en: 'Escalated' },
    withdrawn: { zh: '申请人撤回', en: 'Withdrawn' },
    granted: { zh: '授权开通', en: 'Access granted' },
    overdue: { zh: '超期', en: 'Overdue' },
  },
  version_status: {
    accepted: { zh: '已接收', en: 'Accepted' },
    rejected: { zh: '已拒收', en: 'Rejected' },
  },
  mode: {
    full: { zh: '全量', en: 'Full' },
    incremental: { zh: '增量', en: 'Incremental' },
  },
  storage: {
    rows: { zh: '平台版本库', en: 'Version store' },
    layer: { zh: '地图图层', en: 'Map layer' },
    metadata: { zh: '仅元数据', en: 'Metadata only' },
  },
  dimension: {
    completeness: { zh: '完整性', en: 'Completeness' },
    validity: { zh: '有效性', en: 'Validity' },
    consistency: { zh: '一致性', en: 'Consistency' },
    timeliness: { zh: '及时性', en: 'Timeliness' },
    geometry: { zh: '空间', en: 'Geometry' },
  },
  request_status: {
    bureau_review: { zh: '数据局审核中', en: 'Bureau checking' },
    provider_review: { zh: '待提供部门答复', en: 'Provider answering' },
    approved: { zh: '已批准', en: 'Approved' },
    refused: { zh: '已退回', en: 'Refused' },
    withdrawn: { zh: '已撤回', en: 'Withdrawn' },
  },
  task_status: {
    open: { zh: '待整改', en: 'Open' },
    fixed: { zh: '已整改', en: 'Fixed' },
    dismissed: { zh: '不予整改', en: 'Dismissed' },
  },
  geometry_type: {
    point: { zh: '点', en: 'Point' },
    line: { zh: '线', en: 'Line' },
    polygon: { zh: '面', en: 'Polygon' },
  },
};

export type EnumName = keyof typeof ENUMS & string;

/** The label of an enumerated value (the value itself when unknown). */
export function label(enumName: string, value: string | null | undefined, lang: Lang = getLang()): string {
  if (value === null || value === undefined || value === '') return '—';
  return ENUMS[enumName]?.[value]?.[lang] ?? value;
}

/** The values of an enumeration, in declared order. */
export function values(enumName: string): string[] {
  return Object.keys(ENUMS[enumName] ?? {});
}

/** A zh name and an English one: the current language's, falling back to the other. */
export function named(zh: string | null | undefined, en: string | null | undefined): string {
  return getLang() === 'en' ? en || zh || '' : zh || en || '';
}
