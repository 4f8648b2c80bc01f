/**
 * The header bar: the platform's name, a clock, the server's health and the 中/EN toggle.
 */

import { getHealth } from './api';
import { getLang, locale, onLangChange, setLang, t } from './i18n';
import { describeError, toast } from './toast';

const HEALTH_EVERY_MS = 30_000;
const HEALTH_TIMEOUT_MS = 8_000;

type Health = 'checking' | 'ok' | 'down';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

export interface Header {
  /** Puts another module's element into the header's tools: before the status ('start'), or
   *  between the clock and the language toggle ('end'). */
  addTool(node: HTMLElement, where: 'start' | 'end'): void;
  /** A link to the data center (datacenter.html), shown while `allowed()` (catalog:read);
   *  `changes` registers the re-check (the user signing in). */
  linkDatacenter(allowed: () => boolean, changes: (recheck: () => void) => void): void;
}

export function initHeader(root: HTMLElement): Header {
  const brand = el('div', 'brand');
  const logo = el('span', 'brand-logo', { 'aria-hidden': 'true' });
  const titles = el('div', 'brand-titles');
  const title = el('h1', 'brand-title', { 'data-testid': 'app-title' });
  const subtitle = el('div', 'brand-subtitle');
  titles.append(title, subtitle);
  brand.append(logo, titles);

  const tools = el('div', 'header-tools');
  const status = el('div', 'server-status', { 'data-testid': 'server-status', role: 'status' });
  const dot = el('span', 'status-dot');
  const statusText = el('span', 'status-text');
  status.append(dot, statusText);

  const clock = el('div', 'clock', { 'data-testid': 'clock' });
  const clockTime = el('span', 'clock-time');
  const clockDate = el('span', 'clock-date');
  clock.append(clockTime, clockDate);

  const langButton = el('button', 'lang-toggle', { type: 'button', 'data-testid': 'lang-toggle' });
  langButton.addEventListener('click', () => setLang(getLang() === 'zh' ? 'en' : 'zh'));

  tools.append(status, clock, langButton);
  root.append(brand, tools);

  let health: Health = 'checking';

  const renderClock = (): void => {
    const now = new Date();
    clockTime.textContent = now.toLocaleTimeString(locale(), { hour12: false });
    const zh = getLang() === 'zh';
    const date = now.toLocaleDateString(locale(), {
      year: 'numeric',
      month: zh ? 'long' : 'short',
      day: 'numeric',
    });
    const weekday = now.toLocaleDateString(locale(), { weekday: zh ? 'long' : 'short' });
    clockDate.textContent = zh ? `${date} ${weekday}` : `${weekday} ${date}`;
  };

  const renderStatus = (): void => {
    status.dataset.state = health;
    statusText.textContent = t(
      health === 'ok' ? 'serverOk' : health === 'down' ? 'serverDown' : 'serverChecking',
    );
  };

  const renderTexts = (): void => {
    title.textContent = t('appTitle');
    subtitle.textContent = t('appSubtitle');
    langButton.textContent = t('langToggle');
    langButton.title = t('langToggleTitle');
    langButton.setAttribute('aria-label', t('langToggleTitle'));
    renderStatus();
    renderClock();
  };

  const checkHealth = async (): Promise<void> => {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), HEALTH_TIMEOUT_MS);
    let next: Health;
    let problem = '';
    try {
      const body = await getHealth(controller.signal);
      next = body.status === 'ok' ? 'ok' : 'down';
      if (next === 'down') problem = `status: ${String(body.status)}`;
    } catch (err) {
      next = 'down';
      problem = controller.signal.aborted ? 'timeout' : describeError(err);
    } finally {
      window.clearTimeout(timer);
    }
    if (next === 'down' && health !== 'down') toast(t('serverDownToast'), problem);
    if (next === 'ok' && health === 'down') toast(t('serverBackToast'), '', { kind: 'info' });
    health = next;
    renderStatus();
  };

  renderTexts();
  onLangChange(renderTexts);
  // Align the clock's ticks on the second.
  window.setTimeout(() => {
    renderClock();
    window.setInterval(renderClock, 1000);
  }, 1000 - (Date.now() % 1000));
  void checkHealth();
  window.setInterval(() => void checkHealth(), HEALTH_EVERY_MS);

  const addTool = (node: HTMLElement, where: 'start' | 'end'): void => {
    if (where === 'start') tools.insertBefore(node, status);
    else tools.insertBefore(node, langButton);
  };
  return {
    addTool,
    linkDatacenter(allowed, changes): void {
      const link = el('a', 'header-button', { href: './datacenter.html', 'data-testid': 'datacenter-link' });
      // An anchor among the header's buttons: laid out like them (CSSOM, not inline markup).
      Object.assign(link.style, { display: 'none', alignItems: 'center', textDecoration: 'none' });
      const texts = (): void => {
        link.textContent = getLang() === 'zh' ? '数据' : 'Data';
        link.title = getLang() === 'zh' ? '数据资源中心：目录、质量、共享申请' : 'Data center: catalog, quality, data requests';
      };
      // Shown when allowed and when the header has room for it (a phone's header is full:
      // the data center is at /datacenter there).
      let known = false; // the user is known (before that, allowed() says yes to everything)
      const check = (): void => {
        known = true;
        link.style.display = allowed() ? 'inline-flex' : 'none';
        if (allowed() && tools.getBoundingClientRect().right > window.innerWidth + 0.5) link.style.display = 'none';
      };
      const recheck = (): void => {
        if (known) check();
      };
      texts();
      onLangChange(() => {
        texts();
        recheck();
      });
      addTool(link, 'start');
      changes(check);
      window.addEventListener('resize', recheck);
    },
  };
}
