/**
 * The cameras in the console, for users who may read them (`cameras:read`): status-coloured
 * icons (the catalog's cameras layer) kept live from `cameras.status`, view cones, a click opens
 * the camera panel, the video panels, and the camera alarm list from `cameras.alarms` (acting on
 * alarms needs `cameras:alarms`; the traffic police read it only). Others get no cameras UI.
 */

import type { Map as MapLibreMap, MapMouseEvent } from 'maplibre-gl';
import './cameras.css';
import type { Auth } from '../auth';
import type { Catalog } from '../catalog';
import { el } from '../dom';
import type { Header } from '../header';
import { getLang, onLangChange } from '../i18n';
import type { LiveConnection } from '../live';
import { toast } from '../toast';
import { CameraAlarmList } from './alarmList';
import { CameraAlarmStore } from './alarmStore';
import { CameraMap } from './cameraMap';
import { CameraPanel } from './panel';
import { ct } from './strings';
import { CAMERAS_ALARMS, CAMERAS_LAYER, CAMERAS_READ, STATUS_CHANNEL, type CameraAlarm, type StatusEvent } from './types';
import { videos } from './video';

const FLY_ZOOM = 17; // where the cones show whatever is selected

export interface CamerasDeps {
  map: MapLibreMap;
  live: LiveConnection;
  auth: Auth;
  header: Header;
  stage: HTMLElement;
  /** Opens case `id` on the dispatch desk (an alarm made a case links there). */
  openCase: (id: number) => void;
}

export interface Cameras {
  map: CameraMap;
  alarms: CameraAlarmStore;
  panel: CameraPanel;
  videos: typeof videos;
  /** Selects camera `code` (panel, ring, cone); null clears. */
  select(code: string | null, fly?: boolean): Promise<void>;
  catalogLoaded(catalog: Catalog): void;
  /** True when a click at `point` is on a camera (no feature popup there). */
  claims(point: { x: number; y: number }): boolean;
  setOpen(open: boolean): void;
}

declare global {
  interface Window {
    /** The cameras (map overlay, alarms, panel, videos), for end-to-end tests. */
    __cameras?: Cameras;
  }
}

export function initCameras(deps: CamerasDeps): Cameras {
  const { map, live, auth, header, stage } = deps;
  const cameraMap = new CameraMap(map);
  const store = new CameraAlarmStore();
  const column = el('div', 'cam-column');
  column.dataset.testid = 'camera-column';
  column.hidden = true;
  const play = (code: string, name: string | null, hasStream = true): void => {
    videos.play(code, name, hasStream);
  };
  const list = new CameraAlarmList(store, {
    canAct: () => auth.can(CAMERAS_ALARMS),
    onSelect: (alarm: CameraAlarm) => void cameras.select(alarm.camera, true),
    onPlay: (alarm: CameraAlarm) => play(alarm.camera, alarm.camera_name),
    onCase: (id) => deps.openCase(id),
  });
  const panel = new CameraPanel(list, {
    onPlay: (camera) => play(camera.code, camera.name, camera.has_stream),
    onClose: () => void cameras.select(null),
    liveStatus: (code) => cameraMap.liveStatus(code),
  });
  column.append(videos.root, panel.root);
  stage.append(column);
  store.onChange(() => list.render());

  const button = el('button', 'header-button cam-toggle');
  button.type = 'button';
  button.dataset.testid = 'cameras-toggle';
  button.hidden = true;
  const texts = (): void => {
    button.textContent = ct('cameras');
    button.title = ct('camerasTitle');
  };
  texts();
  onLangChange(texts);
  header.addTool(button, 'start');

  const setOpen = (open: boolean): void => {
    panel.setOpen(open);
    button.setAttribute('aria-pressed', String(open));
    document.body.classList.toggle('cameras-open', open);
  };
  button.addEventListener('click', () => setOpen(!panel.open));

  let connected = false;
  const start = (): void => {
    const readable = auth.can(CAMERAS_READ);
    button.hidden = !readable;
    column.hidden = !readable;
    if (!readable) {
      setOpen(false);
      videos.closeAll();
      return;
    }
    if (!connected) {
      connected = true;
      live.subscribe(STATUS_CHANNEL, {
        followViewport: true,
        onEvent: (data) => {
          const event = data as unknown as StatusEvent;
          cameraMap.applyStatus(event);
          if (panel.camera?.code === event.code) panel.render();
        },
      });
      store.connect(live);
      store.onRaised((alarm) => {
        if (!panel.open) setOpen(true);
        toast(ct('newAlarm'), `${store.kindName(alarm.kind, getLang())} · ${alarm.camera_name ?? alarm.camera}`, { kind: 'info' });
      });
    }
    void store.load();
    // Those who act on alarms (commander, dispatcher) get the list open at start.
    if (auth.can(CAMERAS_ALARMS)) setOpen(true);
    if (auth.can('live:read')) live.start();
  };
  void auth.ready.then(start);
  auth.onUser(start);

  const cameras: Cameras = {
    map: cameraMap,
    alarms: store,
    panel,
    videos,
    async select(code, fly = false) {
      if (code === null) {
        cameraMap.select(null);
        await panel.show(null);
        return;
      }
      setOpen(true);
      panel.setCollapsed(false);
      const camera = await panel.show(code);
      if (!camera) return;
      cameraMap.select({ code: camera.code, lon: camera.lon, lat: camera.lat });
      if (fly) map.flyTo({ center: [camera.lon, camera.lat], zoom: Math.max(map.getZoom(), FLY_ZOOM), duration: 900 });
    },
    catalogLoaded(catalog) {
      cameraMap.attach(catalog);
      const layer = catalog.layers.find((l) => l.id === CAMERAS_LAYER);
      if (layer) panel.setFields(layer.fields);
    },
    claims(point) {
      return auth.can(CAMERAS_READ) && cameraMap.codeAt(point) !== null;
    },
    setOpen,
  };
  map.on('click', (event: MapMouseEvent) => {
    if (!auth.can(CAMERAS_READ)) return;
    const code = cameraMap.codeAt(event.point);
    if (code) void cameras.select(code);
  });
  map.on('mousemove', (event: MapMouseEvent) => {
    if (!auth.can(CAMERAS_READ)) return;
    map.getCanvas().classList.toggle('cam-pointer', cameraMap.codeAt(event.point) !== null);
  });
  window.__cameras = cameras;
  return cameras;
}
