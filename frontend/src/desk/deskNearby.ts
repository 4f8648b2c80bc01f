/**
 * What is near a case, below its facts and actions: grid workers (the case grid's own first,
 * by cell assignment, then the nearest available, each with distance and last-seen time),
 * vehicles within the chosen radius, and the cameras that can see the case (their clipped view
 * covers its point: coverage share, the preset to turn to, a play button opening the console's
 * video panel). Each group folds (vehicles and cameras start folded: a case with 31 cameras near
 * it must not push the actions away); a group the user opened or closed stays so across
 * re-renders. Click a row to see it on the map.
 */

import { videos } from '../cameras/video';
import { t } from '../i18n';
import { DESK_COLORS } from './deskMap';
import { badge } from './deskDetail';
import { button, el } from './dom';
import { age, cameraStatusName, distance, percent } from './names';
import type { DeskStore } from './store';
import type { IncidentDetail, Nearby, NearbyCamera, NearbyWorker } from './types';

const RADII = [100, 300, 500, 1000, 2000, 5000];
type GroupKey = 'nearbyWorkers' | 'nearbyVehicles' | 'nearbyCameras';
const PART = { nearbyWorkers: 'workers', nearbyVehicles: 'vehicles', nearbyCameras: 'cameras' } as const;
/** Which groups are open; workers (whom to assign) start open. */
const openGroups = new Set<GroupKey>(['nearbyWorkers']);

/** "150 米 · 2分钟前" / "位置未知": where a worker is and when the phone last said so. */
export function workerWhere(w: NearbyWorker): string {
  if (w.distance_m === null || w.age_s === null) return t('positionUnknown');
  return `${distance(w.distance_m)} · ${t('lastSeen')} ${age(w.age_s)}`;
}

/** The workers to offer in the dispatch form: the case grid's own first, then nearby ones. */
export function assigneeOptions(nearby: Nearby | null): HTMLOptionElement[] {
  return (nearby?.workers ?? []).map((w) => {
    const own = w.in_case_grid ? `${t('inCaseGrid')} · ` : '';
    const option = el('option', '', `${own}${w.display_name} (${w.username}) · ${workerWhere(w)}`);
    option.value = w.username;
    return option;
  });
}

export function renderNearby(d: IncidentDetail, store: DeskStore, focus: (lon: number, lat: number) => void): HTMLElement {
  const nearby = store.nearby;
  const box = el('section', 'desk-section desk-nearby');
  box.dataset.testid = 'desk-nearby';
  const head = el('div', 'desk-section-head');
  head.append(el('h3', 'desk-section-title', t('nearby')));
  const radius = el('select', 'desk-input desk-radius');
  radius.dataset.testid = 'desk-radius';
  radius.title = t('nearbyRadius');
  for (const r of RADII) {
    const option = el('option', '', distance(r));
    option.value = String(r);
    radius.append(option);
  }
  radius.value = String(store.radius);
  radius.addEventListener('change', () => store.setRadius(Number(radius.value)));
  const radiusLabel = el('label', 'desk-radius-label');
  radiusLabel.append(el('span', '', t('nearbyRadius')), radius);
  head.append(radiusLabel);
  box.append(head);
  if (!nearby || nearby.incident.id !== d.id) {
    box.append(el('p', 'panel-note', store.nearbyFailed ? `${t('nearbyFailed')}: ${store.nearbyFailed}` : t('loading')));
    return box;
  }
  const group = (key: GroupKey, color: string, rows: HTMLElement[], after: HTMLElement[] = []): void => {
    const fold = el('details', 'desk-group');
    fold.dataset.testid = `desk-group-${PART[key]}`;
    fold.open = openGroups.has(key);
    fold.addEventListener('toggle', () => (fold.open ? openGroups.add(key) : openGroups.delete(key)));
    const title = el('summary', 'desk-group-title');
    const dot = el('span', 'desk-dot');
    dot.style.background = color;
    title.append(dot, el('span', '', `${t(key)} ${rows.length}`));
    const list = el('ul', 'desk-near-list');
    list.dataset.testid = `desk-${key}`;
    const withheld = nearby.withheld?.find((w) => w.part === PART[key]);
    if (withheld) {
      const none = el('li', 'desk-near-none', t('nearbyWithheld'));
      none.title = withheld.reason;
      list.append(none);
    } else if (!rows.length) list.append(el('li', 'desk-near-none', t('nearbyNone')));
    list.append(...rows, ...after);
    fold.append(title, list);
    box.append(fold);
  };
  const row = (lon: number | null, lat: number | null, main: string, meta: string[], extra: HTMLElement[] = []): HTMLElement => {
    const li = el('li', 'desk-near');
    const name = el('span', 'desk-near-name', main);
    const info = el('span', 'desk-near-meta', meta.filter(Boolean).join(' · '));
    li.append(name, ...extra, info);
    if (lon === null || lat === null) return li; // nowhere to show on the map
    li.tabIndex = 0;
    li.title = t('flyTo');
    li.addEventListener('click', () => focus(lon, lat));
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') focus(lon, lat);
    });
    return li;
  };
  group(
    'nearbyWorkers',
    DESK_COLORS.worker,
    nearby.workers.map((w) =>
      row(w.lon, w.lat, w.display_name || w.username, [workerWhere(w), w.open_cases ? `${t('openCases')} ${w.open_cases}` : ''],
        w.in_case_grid ? [badge('desk-badge-grid', t('inCaseGrid'))] : []),
    ),
  );
  group(
    'nearbyVehicles',
    DESK_COLORS.vehicle,
    nearby.vehicles.map((v) =>
      row(v.lon, v.lat, v.label ?? v.plate ?? v.vehicle_id, [
        distance(v.distance_m),
        v.line_name ?? v.line_code ?? '',
        typeof v.speed_kmh === 'number' ? `${Math.round(v.speed_kmh)} km/h` : '',
        age(v.age_s),
      ]),
    ),
  );
  group(
    'nearbyCameras',
    DESK_COLORS.camera,
    nearby.cameras.map((c) => {
      const status = badge(`desk-badge-cam desk-cam-${c.status}`, cameraStatusName(c.status));
      const li = row(c.lon, c.lat, c.name ?? c.code, cameraMeta(c), [status, playButton(c)]);
      li.dataset.testid = 'desk-camera';
      li.dataset.code = c.code;
      return li;
    }),
    blockedNote(nearby.cameras_blocked ?? 0),
  );
  return box;
}

/** "另有 3 台在范围内但被建筑遮挡": why a camera next to the case may be missing. */
function blockedNote(blocked: number): HTMLElement[] {
  if (!blocked) return [];
  const note = el('li', 'desk-near-none', `+${blocked} ${t('camerasBlocked')}`);
  note.dataset.testid = 'desk-cameras-blocked';
  return [note];
}

/** "45 米 · 覆盖 62% · 预置位 2 · code": how well and from which view a camera sees the case. */
function cameraMeta(c: NearbyCamera): string[] {
  const share = typeof c.coverage_share === 'number' ? `${t('coverageShare')} ${percent(c.coverage_share)}` : '';
  const preset = c.view_no ? `${t('presetNo')} ${c.view_no}` : '';
  return [distance(c.distance_m), share, preset, c.code];
}

function playButton(c: NearbyCamera): HTMLButtonElement {
  const play = button('desk-cam-play', `▶ ${t('playCamera')}`, () => videos.play(c.code, c.name, c.has_stream ?? true));
  play.title = t('playCameraTitle');
  play.dataset.testid = 'desk-camera-play';
  // The row flies the map to the camera; the button only plays.
  play.addEventListener('click', (e) => e.stopPropagation());
  return play;
}
