/**
 * The shapes the dispatch desk reads from the server (backend/incidents: router.py, desk.py,
 * kpi.py). Only the fields the console uses are listed.
 */

export interface Incident {
  id: number;
  case_no: string;
  category_code: string;
  category_name: string | null;
  kind: string | null;
  urgency: 'normal' | 'urgent' | string;
  description: string;
  address: string | null;
  lon: number;
  lat: number;
  grid_code: string | null;
  grid_name: string | null;
  township_name: string | null;
  community: string | null;
  department_code: string | null;
  department_name: string | null;
  assignee: string | null;
  verifier: string | null;
  state: string;
  extension_pending: boolean;
  supervised: boolean;
  source: string;
  reporter: string | null;
  reported_at: string;
  filed_at: string | null;
  dispatched_at: string | null;
  closed_at: string | null;
  stage_due_at: string | null;
  due_at: string | null;
  overdue: boolean;
  on_time: boolean | null;
  rework_count: number;
  extension_count: number;
  return_count: number;
  updated_at: string;
}

export interface TimelineEvent {
  id: number;
  at: string;
  action: string;
  from_state: string | null;
  to_state: string;
  actor: string;
  actor_role: string | null;
  /** The actor's display name and unit (department), when the actor is a user. */
  actor_name?: string | null;
  actor_unit?: string | null;
  note: string | null;
  lon: number | null;
  lat: number | null;
  data: Record<string, unknown>;
  photos: string[];
}

export interface Clock {
  elapsed_h: number;
  limit_h: number;
  left_h: number;
  running: boolean;
  started: boolean;
  overdue: boolean;
  due_at: string | null;
}

export interface IncidentDetail extends Incident {
  clocks: { stages: Record<string, Clock>; case: Clock; on_time: boolean | null };
  timeline: TimelineEvent[];
  photos: string[];
  actions: string[];
}

export interface Queue {
  total: number;
  incidents: Incident[];
}

/** A change pushed on `incidents.changes`. */
export interface Change {
  id: number;
  case_no?: string;
  action?: string;
  state?: string;
  supervised?: boolean;
  extension_pending?: boolean;
  department_code?: string | null;
  category_code?: string;
  lon?: number;
  lat?: number;
  actor?: string;
  at?: string;
  overdue?: boolean;
  stage_due_at?: string | null;
  on_time?: boolean | null;
}

export interface Summary {
  at: string;
  states: Record<string, number>;
  open: number;
  overdue: number;
  supervised: number;
  extension_pending: number;
  urgent: number;
  closed_today: number;
  voided_today: number;
}

export interface NearbyWorker {
  username: string;
  display_name: string;
  phone: string | null;
  /** Null for one of the case grid's own workers whose phone has never reported. */
  lon: number | null;
  lat: number | null;
  time: string | null;
  age_s: number | null;
  distance_m: number | null;
  grids: { grid_code: string; name: string | null }[];
  in_case_grid: boolean;
  open_cases: number;
}

export interface NearbyVehicle {
  vehicle_id: string;
  label: string | null;
  plate: string | null;
  vehicle_class: string | null;
  line_code: string | null;
  line_name: string | null;
  lon: number;
  lat: number;
  time: string;
  age_s: number;
  speed_kmh: number | null;
  distance_m: number;
}

/** A camera whose clipped view contains the case's point (the answer's SeeingCamera rows,
 *  backend/cameras/schemas.py), online first, nearest first. */
export interface NearbyCamera {
  code: string;
  name: string | null;
  kind: string;
  status: 'online' | 'offline' | 'fault' | string;
  lon: number;
  lat: number;
  distance_m: number;
  /** 0: its own heading; n >= 1: preset n (turn it there to see the case). */
  view_no?: number;
  heading_deg?: number | null;
  /** Share of a small disc around the case inside the camera's view (0-1). */
  coverage_share?: number | null;
  has_stream?: boolean;
}

export interface Nearby {
  incident: { id: number; case_no: string; state: string; lon: number; lat: number; grid_code: string | null };
  radius_m: number;
  reach_m: number;
  limit: number;
  workers: NearbyWorker[];
  vehicles: NearbyVehicle[];
  cameras: NearbyCamera[];
  /** Cameras in range whose view of the case a building blocks (not listed). */
  cameras_blocked?: number;
  /** Parts the caller has no right to (each kind of data needs its own): left empty. */
  withheld?: { part: 'workers' | 'vehicles' | 'cameras'; reason: string }[];
}

export interface Department {
  code: string;
  name: string;
}

export interface KpiRates {
  closed_rate: number | null;
  on_time_rate: number | null;
  rework_rate: number | null;
  extension_rate: number | null;
}

export interface KpiRow {
  key?: string | null;
  name?: string | null;
  filed: number;
  dispatched: number;
  handled: number;
  closed: number;
  closed_on_time: number;
  reworked: number;
  extended: number;
  open: number;
  overdue: number;
  supervised: number;
  rates: KpiRates;
}

export interface Kpis {
  from: string;
  to: string;
  window: string;
  group_by: string;
  period: string | null;
  total: KpiRow;
  groups: KpiRow[];
}
