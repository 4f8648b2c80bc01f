/**
 * Small messages for the user: errors are shown here, never swallowed. A message repeated
 * while its toast is still up is counted on that toast instead of stacking a new one.
 */

import { onLangChange, t, type StringKey } from './i18n';

export type ToastKind = 'error' | 'warning' | 'info';

export interface ToastOptions {
  kind?: ToastKind;
  /** Milliseconds before it goes away by itself; 0 keeps it until closed. */
  timeout?: number;
  /** A button on the toast, e.g. "retry"; the toast closes when it is clicked. */
  action?: { label: StringKey; run: () => void };
}

interface Shown {
  element: HTMLElement;
  count: number;
  timer: number | undefined;
}

const shown = new Map<string, Shown>();
let container: HTMLElement | null = null;

export function initToasts(element: HTMLElement): void {
  container = element;
  onLangChange(() => {
    for (const button of element.querySelectorAll<HTMLElement>('[data-i18n]')) {
      button.textContent = t(button.dataset.i18n as StringKey);
    }
  });
}

function close(key: string): void {
  const entry = shown.get(key);
  if (!entry) return;
  window.clearTimeout(entry.timer);
  entry.element.remove();
  shown.delete(key);
}

/** Shows `title` (already in the user's language) with an optional detail line. */
export function toast(title: string, detail = '', options: ToastOptions = {}): void {
  const { kind = 'error', timeout = kind === 'error' ? 12000 : 6000, action } = options;
  const key = `${kind}|${title}|${detail}`;
  const existing = shown.get(key);
  if (existing) {
    existing.count += 1;
    const counter = existing.element.querySelector('.toast-count');
    if (counter) counter.textContent = `×${existing.count}`;
    return;
  }
  if (!container) return;

  const element = document.createElement('div');
  element.className = `toast toast-${kind}`;
  element.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  element.dataset.testid = 'toast';

  const text = document.createElement('div');
  text.className = 'toast-text';
  const heading = document.createElement('strong');
  heading.textContent = title;
  const counter = document.createElement('span');
  counter.className = 'toast-count';
  text.append(heading, counter);
  if (detail) {
    const small = document.createElement('small');
    small.textContent = detail;
    text.append(small);
  }
  element.append(text);

  if (action) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'toast-action';
    button.dataset.i18n = action.label;
    button.textContent = t(action.label);
    button.addEventListener('click', () => {
      close(key);
      action.run();
    });
    element.append(button);
  }
  const closer = document.createElement('button');
  closer.type = 'button';
  closer.className = 'toast-close';
  closer.textContent = '×';
  closer.title = `${t('close', 'zh')} / ${t('close', 'en')}`;
  closer.addEventListener('click', () => close(key));
  element.append(closer);

  container.append(element);
  const timer = timeout > 0 ? window.setTimeout(() => close(key), timeout) : undefined;
  shown.set(key, { element, count: 1, timer });
}

/** The message of anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
