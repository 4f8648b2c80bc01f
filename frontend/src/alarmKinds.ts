/**
 * Names of alarm kinds in both languages: the platform's own rules and the JT/T 808 alarm bits
 * (backend/vehicles/alarm_bits.py). An unknown kind is shown as sent ("bit_16" stays "bit_16").
 */

import { nameLookup } from './bilingualName';
import type { Bilingual } from './i18n';

export type Severity = 'info' | 'warning' | 'critical';

const KINDS: Record<string, Bilingual> = {
  // computed by the platform's rules
  sos: { zh: '紧急报警', en: 'SOS' },
  overspeed: { zh: '超速', en: 'Overspeed' },
  off_route: { zh: '偏离路线', en: 'Off route' },
  long_stop: { zh: '异常停车', en: 'Long stop' },
  geofence_enter: { zh: '进入电子围栏', en: 'Entered geofence' },
  geofence_exit: { zh: '驶出电子围栏', en: 'Left geofence' },
  bunching: { zh: '串车', en: 'Bunching' },
  // JT/T 808 alarm flag bits
  terminal_overspeed: { zh: '超速报警（终端）', en: 'Overspeed (terminal)' },
  fatigue: { zh: '疲劳驾驶', en: 'Fatigue driving' },
  danger_warning: { zh: '危险预警', en: 'Danger warning' },
  gnss_fault: { zh: 'GNSS模块故障', en: 'GNSS module fault' },
  gnss_antenna_open: { zh: 'GNSS天线未接或被剪断', en: 'GNSS antenna disconnected' },
  gnss_antenna_short: { zh: 'GNSS天线短路', en: 'GNSS antenna short circuit' },
  low_voltage: { zh: '主电源欠压', en: 'Main power low voltage' },
  power_off: { zh: '主电源掉电', en: 'Main power off' },
  display_fault: { zh: '显示器故障', en: 'Display fault' },
  tts_fault: { zh: 'TTS模块故障', en: 'TTS module fault' },
  camera_fault: { zh: '摄像头故障', en: 'Camera fault' },
  ic_card_fault: { zh: 'IC卡模块故障', en: 'IC card module fault' },
  overspeed_warning: { zh: '超速预警', en: 'Overspeed pre-warning' },
  fatigue_warning: { zh: '疲劳驾驶预警', en: 'Fatigue pre-warning' },
  daily_driving_overtime: { zh: '当天累计驾驶超时', en: 'Daily driving time exceeded' },
  parking_overtime: { zh: '超时停车', en: 'Parking overtime' },
  area_in_out: { zh: '进出区域', en: 'Entering/leaving area' },
  route_in_out: { zh: '进出路线', en: 'Entering/leaving route' },
  segment_time: { zh: '路段行驶时间异常', en: 'Route segment time abnormal' },
  route_deviation: { zh: '路线偏离报警', en: 'Route deviation' },
  vss_fault: { zh: '车速传感器故障', en: 'Speed sensor fault' },
  fuel_abnormal: { zh: '油量异常', en: 'Abnormal fuel level' },
  theft: { zh: '车辆被盗', en: 'Vehicle stolen' },
  illegal_ignition: { zh: '非法点火', en: 'Illegal ignition' },
  illegal_displacement: { zh: '非法位移', en: 'Illegal displacement' },
  collision: { zh: '碰撞预警', en: 'Collision' },
  rollover: { zh: '侧翻预警', en: 'Rollover' },
  illegal_door_open: { zh: '非法开门', en: 'Illegal door opening' },
};

const SEVERITIES: Record<Severity, Bilingual> = {
  critical: { zh: '紧急', en: 'Critical' },
  warning: { zh: '警告', en: 'Warning' },
  info: { zh: '提示', en: 'Info' },
};

export const kindName = nameLookup(KINDS);
export const severityName = nameLookup(SEVERITIES);

/** Most severe first. */
export function severityRank(severity: string): number {
  return severity === 'critical' ? 0 : severity === 'warning' ? 1 : 2;
}
