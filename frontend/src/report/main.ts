/**
 * The grid worker's phone page (/report): sign in, report a case (saved on the phone first,
 * sent when the network allows, once), see the outbox, and work through 我的任务.
 */

import './report.css';
import { fetchCatalog, type Catalog } from '../catalog';
import { PositionSharing } from './geo';
import { applyTexts, lang, onLang, setLang, t, type Key } from './i18n';
import { LocationMap } from './locmap';
import { installOffline } from './offline';
import { HttpError, getJSON, messageOf, onUnauthorized, request, type Category, type User } from './net';
import { ReportForm } from './form';
import { MyGrid } from './mygrid';
import { Outbox } from './outbox';
import type { Draft } from './store';
import { TaskList } from './tasks';
import { h, initToast, shortTime, toast } from './ui';

declare global {
  interface Window {
    /** The page's state, for end-to-end tests. */
    __report?: { outbox: Outbox; ready: boolean; user: User | null };
  }
}

const USER_KEY = 'cityops.report.user';
const CATEGORIES_KEY = 'cityops.report.categories';
const CENTER_KEY = 'cityops.report.center';
type Tab = 'report' | 'queue' | 'tasks' | 'grid';

function cached<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

function keep(key: string, value: unknown): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or disabled: the page still works, just remembers less
  }
}

const root = document.getElementById('report-app') as HTMLElement;
const outbox = new Outbox();
const sharing = new PositionSharing();
const form = new ReportForm(outbox);
const tasks = new TaskList(sharing);
const grid = new MyGrid(outbox);
const state = { outbox, ready: false, user: null as User | null };
outbox.owner = () => state.user?.username ?? null;
window.__report = state;
let map: LocationMap | null = null;

// Header -----------------------------------------------------------------------------------
const net = h('span', { class: 'rp-net', testid: 'net' });
const langButton = h('button', { type: 'button', class: 'rp-lang', testid: 'lang', 'data-t-title': 'langToggleTitle', t: 'langToggle' });
langButton.addEventListener('click', () => setLang(lang() === 'zh' ? 'en' : 'zh'));
const who = h('span', { class: 'rp-who', testid: 'who' });
const signOut = h('button', { type: 'button', class: 'rp-link', t: 'signOut', testid: 'sign-out' });
signOut.addEventListener('click', () => void logout());
const userLine = h('div', { class: 'rp-userline' }, who, signOut);
const header = h(
  'header',
  { class: 'rp-header' },
  h('div', { class: 'rp-brand' }, h('h1', { class: 'rp-title', t: 'title' }), h('span', { class: 'rp-subtitle', t: 'subtitle' })),
  net,
  langButton,
);

// Tabs -------------------------------------------------------------------------------------
const tabs: Record<Tab, { button: HTMLButtonElement; count?: HTMLElement; panel: HTMLElement }> = {
  report: { button: h('button', {}), panel: h('section', { class: 'rp-panel', testid: 'panel-report' }, form.element) },
  queue: { button: h('button', {}), count: h('span', { class: 'rp-count', testid: 'queue-count' }), panel: h('section', { class: 'rp-panel', testid: 'panel-queue' }) },
  tasks: { button: h('button', {}), panel: tasks.element },
  grid: { button: h('button', {}), panel: grid.element },
};
const tabBar = h('nav', { class: 'rp-tabs', role: 'tablist' });
for (const [name, tab] of Object.entries(tabs) as Array<[Tab, (typeof tabs)[Tab]]>) {
  const label: Key = name === 'report' ? 'tabReport' : name === 'queue' ? 'tabQueue' : name === 'grid' ? 'tabGrid' : 'tabTasks';
  tab.button = h('button', { type: 'button', role: 'tab', class: 'rp-tab', testid: `tab-${name}` }, h('span', { t: label }), tab.count ?? null);
  tab.button.addEventListener('click', () => show(name));
  tabBar.append(tab.button);
}

function show(name: Tab): void {
  for (const [key, tab] of Object.entries(tabs) as Array<[Tab, (typeof tabs)[Tab]]>) {
    tab.button.setAttribute('aria-selected', String(key === name));
    tab.panel.hidden = key !== name;
  }
  tabs.grid.button.hidden = !state.user?.permissions.includes('people:cells');
  if (name === 'report') map?.resize();
  if (name === 'tasks') void tasks.refresh();
  if (name === 'grid') void grid.refresh();
}

// Login ------------------------------------------------------------------------------------
const username = h('input', { class: 'rp-input', name: 'username', autocomplete: 'username', autocapitalize: 'none', required: true, testid: 'login-username' });
const password = h('input', { class: 'rp-input', name: 'password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
const loginError = h('p', { class: 'rp-warn', role: 'alert', testid: 'login-error' });
const loginButton = h('button', { type: 'submit', class: 'rp-btn rp-btn-primary', t: 'signIn', testid: 'login-submit' });
const loginForm = h(
  'form',
  { class: 'rp-login', testid: 'login' },
  h('h2', { class: 'rp-h2', t: 'signInTitle' }),
  h('p', { class: 'rp-note', t: 'signInHint' }),
  h('label', { class: 'rp-field' }, h('span', { class: 'rp-label', t: 'username' }), username),
  h('label', { class: 'rp-field' }, h('span', { class: 'rp-label', t: 'password' }), password),
  loginError,
  loginButton,
);
loginForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void login();
});

const main = h('main', { class: 'rp-main' }, loginForm, ...Object.values(tabs).map((tab) => tab.panel));
root.append(header, userLine, tabBar, main);
initToast(root);

function signedIn(user: User): void {
  state.user = user;
  keep(USER_KEY, user);
  who.textContent = user.display_name || user.username;
  tasks.setUser(user);
  grid.setUser(user.username);
  loginForm.hidden = true;
  tabBar.hidden = false;
  userLine.hidden = false;
  show('report');
  ensureMap();
  void loadCategories();
  sharing.start();
  void outbox.changed().then(() => outbox.flush());
}

function signedOut(reason: Key | null): void {
  state.user = null;
  loginForm.hidden = false;
  tabBar.hidden = true;
  userLine.hidden = true;
  for (const tab of Object.values(tabs)) tab.panel.hidden = true;
  void outbox.changed();
  loginError.textContent = reason ? t(reason) : '';
  username.focus();
}

async function login(): Promise<void> {
  loginError.textContent = '';
  if (!navigator.onLine) {
    loginError.textContent = t('signInOffline');
    return;
  }
  loginButton.disabled = true;
  loginButton.textContent = t('signingIn');
  try {
    const response = await request('/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: username.value.trim(), password: password.value }),
    });
    const body = (await response.json()) as { user: User };
    password.value = '';
    signedIn(body.user);
  } catch (err) {
    loginError.textContent = `${t('signInFailed')}: ${messageOf(err)}`;
  } finally {
    loginButton.disabled = false;
    loginButton.textContent = t('signIn');
  }
}

async function logout(): Promise<void> {
  try {
    await request('/api/auth/logout', { method: 'POST' });
  } catch {
    // the cookie may be gone already
  }
  keep(USER_KEY, null);
  signedOut(null);
}

onUnauthorized(() => {
  if (state.user) signedOut('sessionEnded');
});

// Data -------------------------------------------------------------------------------------
async function loadCategories(): Promise<void> {
  const known = cached<Category[]>(CATEGORIES_KEY);
  if (known) form.setCategories(known);
  try {
    const { categories } = await getJSON<{ categories: Category[] }>('/api/case-categories');
    keep(CATEGORIES_KEY, categories);
    form.setCategories(categories);
  } catch {
    if (!known) form.setCategories([]);
  }
}

function ensureMap(): void {
  if (map) return;
  const center = cached<[number, number]>(CENTER_KEY) ?? [0, 0];
  map = new LocationMap(form.mapBox, center);
  form.attachMap(map);
  const made = map;
  fetchCatalog()
    .then((catalog: Catalog) => {
      keep(CENTER_KEY, catalog.center);
      if (!made.hasPin) made.map.jumpTo({ center: catalog.center, zoom: 12 });
      made.addLayers(catalog);
    })
    .catch(() => undefined) // offline: the pin still works
    .finally(() => form.locate());
}

// Outbox -----------------------------------------------------------------------------------
const STATE_KEY: Record<Draft['state'], Key> = {
  queued: 'stateQueued',
  sending: 'stateSending',
  sent: 'stateSent',
  failed: 'stateFailed',
};

function renderQueue(): void {
  const waiting = outbox.waiting;
  const count = tabs.queue.count as HTMLElement;
  count.textContent = waiting ? String(waiting) : '';
  count.hidden = !waiting;
  const sendNow = h('button', { type: 'button', class: 'rp-btn rp-btn-primary rp-btn-small', t: 'sendNow', testid: 'send-now' });
  sendNow.disabled = !waiting || !navigator.onLine;
  sendNow.addEventListener('click', () => void outbox.flush());
  const clear = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost rp-btn-small', t: 'clearSent' });
  clear.hidden = !outbox.drafts.some((d) => d.state === 'sent');
  clear.addEventListener('click', () => void outbox.clearSent());
  const names = new Map((cached<Category[]>(CATEGORIES_KEY) ?? []).map((c) => [c.code, c.name]));
  const cards = [...outbox.drafts].reverse().map((d) => {
    const category = names.get(d.body.category_code);
    const buttons: HTMLElement[] = [];
    if (d.state === 'failed') {
      const retry = h('button', { type: 'button', class: 'rp-btn rp-btn-primary rp-btn-small', t: 'retry' });
      retry.addEventListener('click', () => void outbox.retry(d.id));
      buttons.push(retry);
    }
    if (d.state === 'queued' || d.state === 'failed') {
      const remove = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost rp-btn-small', t: 'remove' });
      remove.addEventListener('click', () => {
        if (confirm(t('confirmRemove'))) void outbox.remove(d.id);
      });
      buttons.push(remove);
    }
    return h(
      'article',
      { class: `rp-card rp-draft rp-draft-${d.state}`, testid: 'draft', 'data-state': d.state, 'data-id': d.id },
      h('div', { class: 'rp-card-head' },
        h('span', { class: `rp-state rp-state-${d.state}`, t: STATE_KEY[d.state] }),
        d.case_no ? h('strong', { testid: 'draft-case' }, d.case_no) : null,
        h('span', { class: 'rp-note rp-push' }, shortTime(d.created_at)),
      ),
      h('p', { class: 'rp-card-text' }, d.body.description),
      d.change ? null : h('p', { class: 'rp-note' }, `${category ? `${category} · ` : ''}${d.body.category_code} · ${d.photo_count} `, h('span', { t: 'photoCount' }),
        d.attempts ? ` · ${d.attempts} ` : '', d.attempts ? h('span', { t: 'attempts' }) : null),
      d.error && d.state !== 'sent' ? h('p', { class: 'rp-warn' }, h('span', { t: 'lastError' }), `: ${d.error}`) : null,
      buttons.length ? h('div', { class: 'rp-actions' }, ...buttons) : null,
    );
  });
  tabs.queue.panel.replaceChildren(
    h('p', { class: 'rp-note', t: 'queueHint' }),
    h('div', { class: 'rp-row' }, sendNow, clear),
    ...(cards.length ? cards : [h('p', { class: 'rp-empty', t: 'queueEmpty' })]),
  );
  applyTexts(tabs.queue.panel);
}

// Network state ----------------------------------------------------------------------------
function renderNet(): void {
  net.dataset.online = String(navigator.onLine);
  net.textContent = navigator.onLine ? t('online') : t('offline');
}
window.addEventListener('online', () => {
  renderNet();
  renderQueue();
});
window.addEventListener('offline', () => {
  renderNet();
  renderQueue();
});

onLang(() => {
  applyTexts(document.body);
  renderNet();
  renderQueue();
});

// Start ------------------------------------------------------------------------------------
async function start(): Promise<void> {
  applyTexts(document.body);
  renderNet();
  outbox.onChange(renderQueue);
  let user: User | null = null;
  try {
    // Always 200 (signed in or not): an expected "not signed in" logs no error.
    const session = await getJSON<{ signed_in: boolean; user?: User }>('/api/auth/session');
    user = session.signed_in ? session.user ?? null : null;
  } catch (err) {
    // No network: work with the last known user (drafts are kept until it returns).
    if (!(err instanceof HttpError) || err.status === 0) user = cached<User>(USER_KEY);
  }
  if (user) signedIn(user);
  else signedOut(null);
  try {
    await outbox.start();
  } catch (err) {
    toast(messageOf(err), 'error');
  }
  state.ready = true;
  installOffline();
}

void start();
