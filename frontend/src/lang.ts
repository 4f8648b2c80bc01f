/**
 * The one language choice of every page of this origin (the console and the phone page):
 * Chinese first, English second; kept in localStorage, forced with `?lang=en`.
 */

export type Lang = 'zh' | 'en';

const STORAGE_KEY = 'cityops.lang';
const listeners = new Set<(lang: Lang) => void>();

function initialLang(): Lang {
  const fromUrl = new URLSearchParams(location.search).get('lang');
  if (fromUrl === 'zh' || fromUrl === 'en') return fromUrl;
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === 'zh' || stored === 'en') return stored;
  } catch {
    // storage may be disabled (private mode, kiosk policy): the default is fine
  }
  return 'zh';
}

let current: Lang = initialLang();
document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';

export function getLang(): Lang {
  return current;
}

export function setLang(lang: Lang): void {
  if (lang === current) return;
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not persisted; the switch still applies to this page
  }
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const listener of listeners) listener(lang);
}

/** Calls `listener` on every language change; returns the unsubscribe function. */
export function onLangChange(listener: (lang: Lang) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
