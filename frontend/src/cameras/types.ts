/**
 * The cameras API's records as the console reads them (backend/cameras/schemas.py: CameraRead,
 * SeeingCamera, PlayLink, CameraAlarmRead, StatusEvent, AlarmEvent), the hub channels, the
 * rights and the status colours. Layer and channel names are written here once.
 */

import type { Bilingual } from '../i18n';

export const STATUS_CHANNEL = 'cameras.status';
export const ALARMS_CHANNEL = 'cameras.alarms';
export const CAMERAS_READ = 'cameras:read';
export const CAMERAS_ALARMS = 'cameras:alarms';
/** The catalog's layers of camera points and of their clipped view polygons. */
export const CAMERAS_LAYER = 'cameras';
export const VIEWS_LAYER = 'cameras_view';
/** The canvas-drawn SDF icon the cameras layer's YAML style names (`icon-image`). */
export const CAMERA_ICON = 'cityops-camera';
/** From this zoom every camera's view is drawn, below it only the selected camera's. */
export const ALL_CONES_ZOOM = 17;

export type CameraStatus = 'online' | 'offline' | 'fault';
export const STATUSES: CameraStatus[] = ['online', 'offline', 'fault'];

/** Online green, offline grey, fault red: apart on the dark map and for red-green weak eyes
 *  by brightness (the grey is the dimmest). */
export const STATUS_COLORS: Record<CameraStatus, string> = {
  online: '#43d17a',
  offline: '#8a96a3',
  fault: '#ff5252',
};

export const STATUS_NAMES: Record<CameraStatus, Bilingual> = {
  online: { zh: '在线', en: 'Online' },
  offline: { zh: '离线', en: 'Offline' },
  fault: { zh: '故障', en: 'Fault' },
};

export const KIND_NAMES: Record<string, Bilingual> = {
  tianwang: { zh: '天网', en: 'Tianwang' },
  xueliang: { zh: '雪亮', en: 'Xueliang' },
  traffic: { zh: '交通', en: 'Traffic' },
};

export function statusOf(value: unknown): CameraStatus {
  return value === 'online' || value === 'offline' || value === 'fault' ? value : 'offline';
}

export interface Preset {
  preset_no: number;
  name: string | null;
  heading_deg: number;
  fov_deg: number;
  range_m: number | null;
  tilt_deg: number | null;
}

export interface Camera {
  code: string;
  name: string | null;
  kind: string;
  status: CameraStatus;
  lon: number;
  lat: number;
  heading_deg: number | null;
  fov_deg: number | null;
  range_m: number | null;
  height_m: number | null;
  tilt_deg: number | null;
  address: string | null;
  status_changed_at: string | null;
  last_seen_at: string | null;
  has_stream: boolean;
  presets: Preset[];
}

export interface SeeingCamera {
  code: string;
  name: string | null;
  kind: string;
  status: CameraStatus | string;
  lon: number;
  lat: number;
  distance_m: number;
  view_no: number;
  heading_deg: number;
  coverage_share: number;
  has_stream: boolean;
}

export interface PlayLink {
  code: string;
  protocol: 'hls' | 'whep';
  url: string;
  expires_at: string;
}

export type AlarmState = 'open' | 'acknowledged' | 'closed';

export interface CameraAlarm {
  id: number;
  camera: string;
  camera_name: string | null;
  time: string;
  received_at: string;
  kind: string;
  priority: number;
  description: string | null;
  source: string;
  state: AlarmState;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  incident_id: number | null;
  case_no: string | null;
  lon: number;
  lat: number;
}

export interface StatusEvent {
  code: string;
  name: string | null;
  status: CameraStatus;
  previous: CameraStatus | null;
  reason: string;
  time: string;
  lon: number;
  lat: number;
}

export interface AlarmEvent {
  action: 'raised' | 'acknowledged' | 'closed' | 'case';
  alarm: CameraAlarm;
  lon: number;
  lat: number;
}

/** A case category as `/api/case-categories` lists it (the picker needs these fields). */
export interface CaseCategory {
  code: string;
  kind: string;
  major_name: string;
  name: string;
}
