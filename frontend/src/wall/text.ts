/** The wall's own strings, Chinese first and English second (the console's are in ../i18n). */

import { getLang, type Bilingual } from '../i18n';

const TEXT = {
  title: { zh: '泗县城市运行管理中心', en: 'Sixian City Operations Center' },
  subtitle: { zh: 'Sixian City Operations Center', en: '泗县城市运行管理中心' },
  demo: { zh: '示意', en: 'synthetic' },
  demoTitle: { zh: '演示数据（生成数据，非真实）', en: 'Demo data (generated, not real)' },
  stale: { zh: '数据延迟', en: 'stale' },
  noWeather: { zh: '暂无气象实况', en: 'no weather observation' },
  duty: { zh: '值班', en: 'On duty' },
  overview: { zh: '全县总览', en: 'County overview' },
  cases: { zh: '今日案件', en: 'Cases today' },
  casesFiled: { zh: '今日立案', en: 'filed today' },
  casesOpen: { zh: '在办', en: 'open' },
  casesClosed: { zh: '今日结案', en: 'closed today' },
  casesOverdue: { zh: '超期', en: 'overdue' },
  buses: { zh: '公交运营', en: 'Bus operations' },
  busesOnline: { zh: '在线车辆', en: 'vehicles online' },
  busesOnLine: { zh: '线路运营', en: 'on a line' },
  busesAlarm: { zh: '报警车辆', en: 'with alarms' },
  alerts: { zh: '车辆与交通告警', en: 'Vehicle and traffic alerts' },
  noAlerts: { zh: '暂无告警', en: 'no alerts' },
  dataHealth: { zh: '数据汇聚', en: 'Data collection' },
  datasets: { zh: '数据集', en: 'datasets' },
  updatedToday: { zh: '今日更新', en: 'updated today' },
  quality: { zh: '平均质量分', en: 'mean quality' },
  failing: { zh: '质量问题', en: 'failing checks' },
  latestCases: { zh: '最新案件', en: 'Latest cases' },
  noCases: { zh: '暂无案件', en: 'no cases' },
  caseCard: { zh: '案件详情（只读）', en: 'Case (read only)' },
  close: { zh: '关闭', en: 'Close' },
  paused: { zh: '轮播暂停', en: 'carousel paused' },
  filterExtent: { zh: '地图范围', en: 'map extent' },
  filterPolygon: { zh: '自绘区域', en: 'drawn area' },
  filterTownship: { zh: '乡镇', en: 'township' },
  filterGrid: { zh: '网格', en: 'grid cell' },
  filterLayer: { zh: '图层筛选', en: 'layer filter' },
  clearFilter: { zh: '清除筛选', en: 'Clear the filter' },
  draw: { zh: '画区域', en: 'Draw area' },
  drawHint: { zh: '单击加点，双击结束，Esc 取消', en: 'click to add points, double-click to finish, Esc to cancel' },
  followExtent: { zh: '按地图范围', en: 'By map extent' },
  county: { zh: '全县', en: 'County' },
  asOf: { zh: '截至', en: 'as of' },
  unavailable: { zh: '暂不可用', en: 'unavailable' },
  countyFigure: { zh: '全县数', en: 'county figure' },
  snapshot: { zh: '态势快照', en: 'Snapshot' },
  snapshotDone: { zh: '快照已生成', en: 'Snapshot saved' },
  snapshotFailed: { zh: '快照生成失败', en: 'Snapshot failed' },
  download: { zh: '下载', en: 'Download' },
  domainsFailed: { zh: '专题视图加载失败', en: 'The domain views failed to load' },
  lang: { zh: 'EN', en: '中' },
  langTitle: { zh: 'Switch to English', en: '切换到中文' },
} satisfies Record<string, Bilingual>;

export type TextKey = keyof typeof TEXT;

export function w(key: TextKey): string {
  return TEXT[key][getLang()];
}

/** "中文 / English" for labels that show both languages at once. */
export function both(key: TextKey): string {
  return `${TEXT[key].zh} / ${TEXT[key].en}`;
}
