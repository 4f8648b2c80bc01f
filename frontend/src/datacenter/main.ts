/**
 * The data center (datacenter.html): the catalog of the county's 323 datasets and the map
 * layers, a dataset's page, the steward's department page, the data bureau's overview and the
 * user's requests, as tabs of one page. The hash keeps the tab and its subject:
 * `#catalog`, `#dataset/ID`, `#department/CODE`, `#bureau`, `#requests`.
 * It reuses the console's header, login and toasts; the live connection brings `data.updates`
 * (a toast, and the open dataset page refreshes, when a subscribed dataset changes).
 */

import './datacenter.css';
import './chrome.css';
import { Auth } from '../auth';
import { initHeader } from '../header';
import { LiveConnection } from '../live';
import { describeError, initToasts, toast } from '../toast';
import { renderBureau } from './bureauView';
import { renderCatalog } from './catalogView';
import { renderChanges } from './changesView';
import { CAN, type Ctx } from './context';
import { renderDataset } from './datasetView';
import { me as fetchMe, subscriptions as fetchSubscriptions } from './dcApi';
import { renderDepartment } from './departmentView';
import { onLangChange, s, type Key } from './i18n';
import { renderPeople } from './peopleView';
import { renderRequests } from './requestsView';
import type { DataUpdate, Me } from './types';
import { el, failure } from './ui';

/** The data.updates channel (backend/realtime/messages.py DATA_UPDATES). */
export const DATA_UPDATES = 'data.updates';

declare global {
  interface Window {
    /** The data center's state, for end-to-end tests. */
    __dc?: { ready: boolean; route: string; rendered: number; live: LiveConnection; updates: DataUpdate[] };
  }
}

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from datacenter.html`);
  return node;
}

interface Tab {
  id: 'catalog' | 'department' | 'bureau' | 'requests' | 'people' | 'changes';
  label: Key;
  allowed(ctx: Ctx): boolean;
}

const TABS: Tab[] = [
  { id: 'catalog', label: 'tabCatalog', allowed: (c) => c.can(CAN.read) },
  { id: 'department', label: 'tabDepartment', allowed: (c) => c.can(CAN.govern) || (c.can(CAN.steward) && !!c.me.department) },
  { id: 'bureau', label: 'tabBureau', allowed: (c) => c.can(CAN.govern) },
  { id: 'requests', label: 'tabRequests', allowed: (c) => c.can(CAN.request) },
  { id: 'people', label: 'tabPeople', allowed: (c) => c.can(CAN.peopleRead) || c.can(CAN.peopleCells) },
  { id: 'changes', label: 'tabChanges', allowed: (c) => c.can(CAN.peopleConfirm) },
];

initToasts(byId('toasts'));
const header = initHeader(byId('header'));
const auth = new Auth(byId('dc-app'));
const live = new LiveConnection();
const tabsBar = byId('dc-tabs');
const main = byId('dc-main');
const updates: DataUpdate[] = [];
const state = { ready: false, route: '', rendered: 0, live, updates };
window.__dc = state;

const home = el('a', 'header-button dc-home');
home.href = './';
home.dataset.testid = 'dc-console-link';
header.addTool(home, 'start');
header.addTool(auth.headerElement, 'end');

const updateListeners = new Set<(id: string) => void>();
let ctx: Ctx | null = null;
let generation = 0;

function route(): { tab: string; arg: string } {
  const raw = decodeURIComponent(location.hash.replace(/^#/, ''));
  const [tab = '', ...rest] = raw.split('/');
  return { tab: tab || 'catalog', arg: rest.join('/') };
}

function renderTabs(active: string): void {
  tabsBar.replaceChildren();
  const title = el('span', 'dc-title', s('pageTitle'));
  tabsBar.append(title);
  for (const tab of TABS) {
    if (!ctx || !tab.allowed(ctx)) continue;
    const a = el('a', 'dc-tab', s(tab.label));
    a.href = `#${tab.id}`;
    a.dataset.testid = `tab-${tab.id}`;
    const on = active === tab.id || (active === 'dataset' && tab.id === 'catalog');
    if (on) a.setAttribute('aria-current', 'page');
    tabsBar.append(a);
  }
}

/** Renders the route of the address into <main>; a later navigation supersedes it. */
async function render(): Promise<void> {
  if (!ctx) return;
  const { tab, arg } = route();
  const mine = ++generation;
  state.route = `${tab}/${arg}`;
  home.textContent = s('backToConsole');
  renderTabs(tab);
  const view = el('div', 'dc-view');
  view.dataset.testid = `view-${tab}`;
  main.replaceChildren(view);
  const stale = (): boolean => mine !== generation;
  try {
    if (tab === 'dataset' && arg) await renderDataset(view, ctx, arg, stale);
    else if (tab === 'department') await renderDepartment(view, ctx, arg, stale);
    else if (tab === 'bureau') await renderBureau(view, ctx, stale);
    else if (tab === 'requests') await renderRequests(view, ctx, stale);
    else if (tab === 'people') await renderPeople(view, ctx, stale, arg);
    else if (tab === 'changes') await renderChanges(view, ctx, stale);
    else await renderCatalog(view, ctx, stale, arg);
  } catch (err) {
    if (!stale()) view.replaceChildren(failure(err, () => void render()));
  }
  if (!stale()) {
    state.rendered += 1;
    state.ready = true;
  }
}

function connectLive(c: Ctx): void {
  if (!c.can(CAN.live) || !c.can(CAN.read)) return;
  live.subscribe(DATA_UPDATES, {
    onEvent: (data) => {
      const update = data as unknown as DataUpdate;
      if (typeof update.dataset_id !== 'string') return;
      updates.push(update);
      if (updates.length > 50) updates.shift();
      if (!c.subscriptions.has(update.dataset_id)) return;
      toast(s('liveChanged'), `${update.name ?? update.dataset_id} · #${update.seq} (+${update.rows_added} ~${update.rows_changed} −${update.rows_removed})`, { kind: 'info' });
      for (const listener of updateListeners) listener(update.dataset_id);
    },
  });
  live.start();
  auth.onLogin(() => live.start());
}

async function start(): Promise<void> {
  void auth.start();
  await auth.ready;
  let user: Me;
  try {
    user = await fetchMe();
  } catch (err) {
    main.replaceChildren(failure(err, () => location.reload()));
    return;
  }
  const subs = new Set<string>();
  ctx = {
    me: user,
    can: (p) => auth.can(p),
    subscriptions: subs,
    onDatasetUpdate(listener) {
      updateListeners.add(listener);
      return () => updateListeners.delete(listener);
    },
  };
  if (auth.can(CAN.request)) {
    // Before the first page: the dataset page's subscribe toggle shows what is true.
    await fetchSubscriptions()
      .then((list) => {
        for (const item of list) subs.add(typeof item === 'string' ? item : item.dataset_id);
      })
      .catch((err: unknown) => console.warn('subscriptions:', describeError(err)));
  }
  connectLive(ctx);
  window.addEventListener('hashchange', () => {
    updateListeners.clear();
    void render();
  });
  onLangChange(() => {
    updateListeners.clear();
    void render();
  });
  auth.onLogin(() => void render());
  await render();
}

void start();
