/**
 * Finding a category without three dropdowns: a search box (Chinese text, the code, or the
 * pinyin initials, "ld" for 路灯) and the worker's recent categories, kept on the phone in
 * localStorage (no server round trip, works offline). Choosing one hands it to the form, which
 * sets its kind / class / sub-class selects (still there to browse).
 */

import { applyTexts, onLang, t } from './i18n';
import type { Category } from './net';
import { PINYIN_INITIALS } from './pinyinInitials';
import { h } from './ui';

const RECENT_KEY = 'cityops.report.recentCategories';
const RECENT_MAX = 5;
const RESULTS_MAX = 8;

const INITIALS: ReadonlyMap<string, string> = (() => {
  const table = new Map<string, string>();
  for (let i = 0; i + 1 < PINYIN_INITIALS.length; i += 2) table.set(PINYIN_INITIALS[i]!, PINYIN_INITIALS[i + 1]!);
  return table;
})();

/** "路灯损坏" -> "ldsh"; characters outside the table are left out, letters and digits kept. */
export function initialsOf(text: string): string {
  let out = '';
  for (const char of text) {
    const initial = INITIALS.get(char);
    if (initial) out += initial;
    else if (/[a-z0-9]/i.test(char)) out += char.toLowerCase();
  }
  return out;
}

/** How well a category answers the query: lower is better, null is no match. */
export function rank(category: Category, query: string): number | null {
  const q = query.trim().toLowerCase().replace(/\s+/g, '');
  if (!q) return null;
  const name = category.name.toLowerCase();
  const initials = initialsOf(category.name);
  if (category.code.toLowerCase() === q) return 0;
  if (name.startsWith(q)) return 1;
  if (/^[a-z]+$/.test(q) && initials.startsWith(q)) return 2;
  if (name.includes(q)) return 3;
  if (/^[a-z]+$/.test(q) && initials.includes(q)) return 4;
  if (category.major_name.includes(q) || initialsOf(category.major_name).startsWith(q)) return 5;
  if (category.code.toLowerCase().startsWith(q)) return 6;
  return null;
}

export function search(categories: Category[], query: string, max = RESULTS_MAX): Category[] {
  const scored: Array<[number, number, Category]> = [];
  categories.forEach((c, i) => {
    const score = rank(c, query);
    if (score !== null) scored.push([score, i, c]);
  });
  return scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, max).map((s) => s[2]);
}

function loadRecent(): string[] {
  try {
    const raw = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]') as unknown;
    return Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string').slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

export class CategoryPicker {
  readonly element: HTMLElement;
  private categories: Category[] = [];
  private readonly input: HTMLInputElement;
  private readonly results: HTMLElement;
  private readonly recentRow: HTMLElement;

  constructor(private readonly choose: (category: Category) => void) {
    this.input = h('input', {
      class: 'rp-input',
      type: 'search',
      enterkeyhint: 'search',
      autocomplete: 'off',
      autocapitalize: 'none',
      spellcheck: 'false',
      maxlength: 40,
      testid: 'category-search',
      'data-t-ph': 'categorySearchHint',
    });
    this.input.addEventListener('input', () => this.renderResults());
    this.results = h('div', { class: 'rp-cat-results', role: 'listbox', testid: 'category-results' });
    this.recentRow = h('div', { class: 'rp-recent', testid: 'category-recent' });
    this.element = h('div', { class: 'rp-catpick' }, this.recentRow, this.input, this.results);
    onLang(() => {
      applyTexts(this.element);
      this.renderResults();
      this.renderRecent();
    });
    applyTexts(this.element);
  }

  setCategories(categories: Category[]): void {
    this.categories = categories;
    this.renderRecent();
    this.renderResults();
  }

  /** Remembers a category the worker reported with, newest first. */
  remember(code: string): void {
    const recent = [code, ...loadRecent().filter((c) => c !== code)].slice(0, RECENT_MAX);
    try {
      localStorage.setItem(RECENT_KEY, JSON.stringify(recent));
    } catch {
      // storage full: the list just does not grow
    }
    this.renderRecent();
  }

  private chip(category: Category, testid: string): HTMLButtonElement {
    const b = h('button', { type: 'button', class: 'rp-chip', testid, 'data-code': category.code, role: 'option' },
      h('span', { class: 'rp-chip-name' }, category.name),
      h('span', { class: 'rp-chip-meta' }, ` ${category.major_name} · ${category.code}`));
    b.addEventListener('click', () => {
      this.input.value = '';
      this.renderResults();
      this.choose(category);
    });
    return b;
  }

  private renderRecent(): void {
    const byCode = new Map(this.categories.map((c) => [c.code, c]));
    const recent = loadRecent().map((code) => byCode.get(code)).filter((c): c is Category => !!c);
    this.recentRow.hidden = recent.length === 0;
    this.recentRow.replaceChildren(
      h('span', { class: 'rp-note', t: 'recentCategories' }),
      ...recent.map((c) => this.chip(c, 'recent-category')),
    );
    applyTexts(this.recentRow);
  }

  private renderResults(): void {
    const query = this.input.value;
    if (!query.trim()) {
      this.results.replaceChildren();
      this.results.hidden = true;
      return;
    }
    const found = search(this.categories, query);
    this.results.hidden = false;
    this.results.replaceChildren(
      ...(found.length
        ? found.map((c) => this.chip(c, 'category-result'))
        : [h('p', { class: 'rp-note', testid: 'category-none' }, t('categoryNoMatch'))]),
    );
  }
}
