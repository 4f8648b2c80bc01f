/**
 * The data catalog's API as published in issue 12 ("The published API"): hand-copied shapes,
 * one interface per answer. Times are ISO 8601 strings with an offset.
 */

export type ShareType = 'unconditional' | 'conditional' | 'none';
export type OpenType = 'open' | 'conditional' | 'closed';
export type UpdateCycle =
  | 'realtime' | 'daily' | 'weekly' | 'monthly' | 'quarterly' | 'half_yearly' | 'yearly' | 'irregular';
export type Storage = 'rows' | 'layer' | 'metadata';
export type Arrival = 'file' | 'push' | 'exchange' | 'generator' | 'layer';
export type Dimension = 'completeness' | 'validity' | 'consistency' | 'timeliness' | 'geometry';
export type RequestStatus = 'bureau_review' | 'provider_review' | 'approved' | 'refused' | 'withdrawn';

export interface Department {
  code: string;
  name: string;
  short_name: string | null;
  name_en: string | null;
  datasets: number;
}

export interface DatasetSummary {
  id: string;
  resource_code: string;
  name: string;
  name_en: string | null;
  department_code: string;
  department_name: string;
  share_type: ShareType;
  open_type: OpenType;
  update_cycle: UpdateCycle;
  layer_id: string | null;
  storage: Storage;
  geometry_type: string | null;
  synthetic: boolean;
  last_updated_at: string | null;
  current_seq: number | null;
  score: number | null;
  failing: number;
}

export interface DatasetPage {
  total: number;
  items: DatasetSummary[];
}

export interface Field {
  name: string;
  name_zh: string;
  data_type: string;
  description: string | null;
  required: boolean;
  kind: string | null;
  authority: string | null;
  link: string | null;
}

export interface DatasetDetail extends DatasetSummary {
  summary: string | null;
  class_code: string | null;
  item_code: string | null;
  entry_code: string | null;
  detail_code: string | null;
  resource_format: string | null;
  share_condition: string | null;
  share_method: string | null;
  published_on: string | null;
  related: string[];
  keywords: string[];
  key_field: string | null;
  coverage: boolean;
  annex_no: number | null;
  fields: Field[];
  versions: number;
}

export interface Version {
  id: number;
  seq: number | null;
  status: 'accepted' | 'rejected';
  arrival: Arrival;
  mode: 'full' | 'incremental';
  source: string | null;
  created_at: string;
  created_by: string;
  rows_total: number;
  rows_added: number;
  rows_changed: number;
  rows_removed: number;
  rows_rejected: number;
  current: boolean;
  /** Present on the answers of upload and GET .../versions/{id}. */
  report?: VersionReport;
}

/** A version's report: rejected rows and failing blocking rules. Its exact keys are the
 *  arrivals part's; the page reads the common ones and shows the rest as they come. */
export interface VersionReport {
  rejected?: ReportRow[];
  rows?: ReportRow[];
  errors?: ReportRow[];
  blocking?: unknown[];
  [key: string]: unknown;
}

export interface ReportRow {
  row?: number | string | null;
  line?: number | string | null;
  key?: string | null;
  field?: string | null;
  column?: string | null;
  value?: unknown;
  reason?: string | null;
  message?: string | null;
}

export interface QualitySample {
  key: string;
  value: unknown;
  reason: string;
}

export interface QualityRule {
  id: number;
  rule_key: string;
  kind: string;
  dimension: Dimension;
  blocking: boolean;
  params: Record<string, unknown>;
  checked: number;
  failed: number;
  passed: boolean;
  message: string | null;
  samples: QualitySample[];
}

export interface QualityReport {
  dataset_id: string;
  run: {
    id: number;
    version_id: number | null;
    trigger: string;
    started_at: string;
    finished_at: string | null;
    rows_checked: number;
  } | null;
  rules: QualityRule[];
}

export interface RuleKind {
  kind: string;
  dimension: Dimension;
  name: string;
  name_en: string;
  params: unknown;
}

export interface Score {
  day: string;
  completeness: number | null;
  validity: number | null;
  consistency: number | null;
  timeliness: number | null;
  geometry: number | null;
  total: number;
}

export interface ScoreTrend {
  dataset_id: string;
  latest: Score | null;
  trend: Score[];
}

export interface RankingRow {
  code: string;
  name: string;
  rank: number | null;
  total: number | null;
  completeness: number | null;
  validity: number | null;
  consistency: number | null;
  timeliness: number | null;
  geometry: number | null;
  datasets: number;
  overdue_updates: number;
  open_tasks: number;
  open_requests: number;
}

export interface OverdueUpdate {
  dataset_id: string;
  name: string;
  department_code: string;
  due_since: string;
  update_cycle: UpdateCycle;
}

export interface RequestStep {
  at: string;
  actor: string;
  action: string;
  note: string | null;
}

export interface DataRequest {
  id: number;
  dataset_id: string;
  dataset_name: string;
  provider_department: string;
  share_type: ShareType;
  requester: string;
  requester_department: string | null;
  purpose: string;
  fields: string[];
  period_days: number;
  status: RequestStatus;
  created_at: string;
  bureau_due_at: string | null;
  provider_due_at: string | null;
  decided_at: string | null;
  decided_by: string | null;
  reason: string | null;
  escalated_at: string | null;
  overdue: boolean;
  steps: RequestStep[];
  grant: { valid_from: string; valid_until: string } | null;
}

export interface Overview {
  departments: number;
  datasets: number;
  with_data: number;
  average: number | null;
  overdue_updates: OverdueUpdate[];
  open_requests: DataRequest[];
  overdue_requests: DataRequest[];
  open_tasks: number;
}

export interface Task {
  id: number;
  dataset_id: string;
  dataset_name: string;
  rule_key: string;
  kind: string;
  department_code: string;
  status: 'open' | 'fixed' | 'dismissed';
  failed: number;
  opened_at: string;
  due_at: string;
  overdue: boolean;
  closed_at: string | null;
  note: string | null;
}

export interface DepartmentPage {
  code: string;
  name: string;
  score: Score | null;
  rank: number | null;
  datasets: DatasetSummary[];
  tasks: Task[];
  requests_to_answer: DataRequest[];
  overdue_updates: OverdueUpdate[];
}

export interface Change {
  version_id: number;
  seq: number;
  at: string;
  arrival: Arrival;
  rows_added: number;
  rows_changed: number;
  rows_removed: number;
  rows_total: number;
}

export interface Changes {
  dataset_id: string;
  items: Change[];
  last_seq: number | null;
}

export interface RowsPage {
  total: number;
  fields: (string | Field)[];
  items: Record<string, unknown>[];
}

/** One subscription of GET /api/subscriptions (its shape is not fixed by the contract:
 *  the page reads `dataset_id` or takes a bare id). */
export type Subscription = { dataset_id: string } | string;

/** The data.updates event: VersionOutcome.notice() plus `at` and `name`. */
export interface DataUpdate {
  dataset_id: string;
  version_id: number;
  seq: number;
  rows_added: number;
  rows_changed: number;
  rows_removed: number;
  rows_total: number;
  at?: string;
  name?: string;
}

export interface Me {
  username: string;
  display_name: string | null;
  roles: string[];
  permissions: string[];
  department: string | null;
}
