/** The cameras' strings, Chinese first and English second (the console's own are in i18n.ts). */

import { getLang, type Bilingual, type Lang } from '../i18n';

const STRINGS = {
  cameras: { zh: '视频', en: 'Video' },
  camerasTitle: { zh: '视频监控：摄像机、视频、视频告警', en: 'Video: cameras, live video, camera alarms' },
  panel: { zh: '视频监控', en: 'Video cameras' },
  collapse: { zh: '收起视频面板', en: 'Hide the video panel' },
  expand: { zh: '展开视频面板', en: 'Show the video panel' },
  camera: { zh: '摄像机', en: 'Camera' },
  code: { zh: '编码', en: 'Code' },
  status: { zh: '状态', en: 'Status' },
  kind: { zh: '类型', en: 'Kind' },
  height: { zh: '安装高度', en: 'Height' },
  range: { zh: '视距', en: 'Range' },
  fov: { zh: '视场角', en: 'Field of view' },
  heading: { zh: '朝向', en: 'Heading' },
  address: { zh: '地址', en: 'Address' },
  since: { zh: '状态变更', en: 'Status since' },
  presets: { zh: '预置位', en: 'Presets' },
  noPresets: { zh: '无预置位', en: 'No presets' },
  preset: { zh: '预置位', en: 'preset' },
  play: { zh: '播放', en: 'Play' },
  playTitle: { zh: '在视频窗口播放实时视频', en: 'Play the live video in a video panel' },
  noStream: { zh: '该摄像机暂无视频流', en: 'No video stream for this camera' },
  playFailed: { zh: '视频无法播放', en: 'The video cannot be played' },
  loadingVideo: { zh: '正在连接视频…', en: 'Connecting the video…' },
  closeVideo: { zh: '关闭视频', en: 'Close the video' },
  closeCamera: { zh: '关闭', en: 'Close' },
  cameraFailed: { zh: '摄像机信息加载失败', en: 'The camera failed to load' },
  alarms: { zh: '视频告警', en: 'Camera alarms' },
  alarmsEmpty: { zh: '当前无视频告警', en: 'No open camera alarms' },
  alarmsFailed: { zh: '视频告警加载失败', en: 'The camera alarms failed to load' },
  readOnly: { zh: '只读', en: 'read-only' },
  acknowledge: { zh: '确认', en: 'Acknowledge' },
  acknowledged: { zh: '已确认', en: 'Acknowledged' },
  toCase: { zh: '转为案件', en: 'Make a case' },
  category: { zh: '案件类别', en: 'Case category' },
  urgent: { zh: '紧急', en: 'Urgent' },
  description: { zh: '补充说明（可选）', en: 'Description (optional)' },
  submit: { zh: '立案', en: 'File the case' },
  cancel: { zh: '取消', en: 'Cancel' },
  noCategories: { zh: '案件类别未加载', en: 'The case categories are not loaded' },
  caseMade: { zh: '已转为案件', en: 'Case made' },
  openDesk: { zh: '在调度台查看', en: 'Open on the desk' },
  actionFailed: { zh: '操作未完成', en: 'Not done' },
  newAlarm: { zh: '新视频告警', en: 'New camera alarm' },
  statusChanged: { zh: '摄像机状态变化', en: 'Camera status changed' },
  seeing: { zh: '能看到此处的摄像机', en: 'Cameras that can see this' },
  coverage: { zh: '覆盖', en: 'covers' },
  coverageTitle: { zh: '案发点周边小圆内被该摄像机视野覆盖的比例', en: 'Share of a small disc around the point inside this camera’s view' },
  synthetic: { zh: '示意', en: 'synthetic' },
} satisfies Record<string, Bilingual>;

export type CameraKey = keyof typeof STRINGS;

export function ct(key: CameraKey, lang: Lang = getLang()): string {
  return STRINGS[key][lang];
}
