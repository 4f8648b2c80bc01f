/**
 * The dispatch desk and the KPI panel, wired into the console: two header buttons (调度台 for
 * users who may read cases, 绩效 for users who may read KPIs), the desk's store on the live
 * connection (`incidents.changes`) and its map layers. The desk sits beside the layer panel
 * (below it when it is folded). Users who may act on cases get the desk open at start.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import './desk.css';
import type { Auth } from '../auth';
import type { Header } from '../header';
import { onLangChange, t } from '../i18n';
import type { LiveConnection } from '../live';
import { DeskMap } from './deskMap';
import { DeskPanel } from './deskPanel';
import { el } from './dom';
import { KpiPanel } from './kpiPanel';
import { placeBetween } from '../mapCover';
import { DeskStore } from './store';

export interface DeskDeps {
  map: MapLibreMap;
  live: LiveConnection;
  auth: Auth;
  header: Header;
  /** Where the panels go (the map's container's parent). */
  stage: HTMLElement;
}

export interface Desk {
  store: DeskStore;
  map: DeskMap;
  panel: DeskPanel;
  kpis: KpiPanel;
  setOpen(open: boolean): void;
  setKpiOpen(open: boolean): void;
}

declare global {
  interface Window {
    /** The dispatch desk (store, map layers, panels), for end-to-end tests. */
    __desk?: Desk;
  }
}

function headerButton(testid: string): HTMLButtonElement {
  const node = el('button', 'header-button');
  node.type = 'button';
  node.dataset.testid = testid;
  node.hidden = true;
  node.setAttribute('aria-pressed', 'false');
  return node;
}

export function initDesk({ map, live, auth, header, stage }: DeskDeps): Desk {
  const store = new DeskStore();
  const deskMap = new DeskMap(map);
  const panel = new DeskPanel(stage, store, deskMap);
  const kpis = new KpiPanel(stage);
  store.onCaseChange(() => kpis.changed());

  const deskButton = headerButton('desk-toggle');
  const kpiButton = headerButton('kpi-toggle');
  const texts = (): void => {
    deskButton.textContent = t('desk');
    deskButton.title = t('deskToggleTitle');
    kpiButton.textContent = t('kpi');
    kpiButton.title = t('kpiToggleTitle');
  };
  texts();
  onLangChange(texts);
  header.addTool(deskButton, 'start');
  header.addTool(kpiButton, 'start');

  const setOpen = (open: boolean): void => {
    panel.setOpen(open);
    deskButton.setAttribute('aria-pressed', String(open));
    document.body.classList.toggle('desk-open', open);
  };
  // The KPI board floats between the left panels and the right column (alarm list, map
  // controls), never over them; placed again whenever a panel opens, folds or resizes.
  const rem = (): number => parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const placeKpis = (): void => {
    if (kpis.open) placeBetween(kpis.root, map.getContainer(), stage, 0.8 * rem(), 40 * rem(), 24 * rem());
  };
  const setKpiOpen = (open: boolean): void => {
    kpis.setOpen(open);
    kpiButton.setAttribute('aria-pressed', String(open));
    placeKpis();
  };
  const watch = new ResizeObserver(placeKpis);
  for (const node of stage.children) if (node !== kpis.root) watch.observe(node);
  const controls = map.getContainer().querySelector('.maplibregl-ctrl-top-right');
  if (controls) watch.observe(controls);
  watch.observe(stage);
  deskButton.addEventListener('click', () => setOpen(!panel.open));
  kpiButton.addEventListener('click', () => setKpiOpen(!kpis.open));
  panel.onClose(() => setOpen(false));
  kpis.onClose(() => setKpiOpen(false));

  let connected = false;
  let opened = false;
  const apply = (): void => {
    const read = auth.can('incidents:read');
    store.canAct = auth.can('incidents:act');
    deskButton.hidden = !read;
    kpiButton.hidden = !auth.can('kpi:read');
    if (kpiButton.hidden) setKpiOpen(false);
    if (!read) {
      setOpen(false);
      return;
    }
    if (!connected) {
      store.connect(live);
      connected = true;
    }
    void store.reload();
    if (store.canAct && !opened) {
      opened = true;
      setOpen(true);
    }
  };
  void auth.ready.then(apply);
  auth.onUser(() => {
    if (connected || opened) apply(); // a later sign-in (the first one is `ready`)
  });

  const desk: Desk = { store, map: deskMap, panel, kpis, setOpen, setKpiOpen };
  window.__desk = desk;
  return desk;
}
