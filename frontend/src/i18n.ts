/**
 * Every string of the console, in Chinese first and English second, and the current language.
 * The catalog brings its own bilingual titles ({zh, en}); `pick` chooses from those.
 */

export type Lang = 'zh' | 'en';

export interface Bilingual {
  zh: string;
  en: string;
}

const STRINGS = {
  appTitle: { zh: '泗县城市综合运行管理平台', en: 'Sixian City Operations Center' },
  appSubtitle: { zh: 'Sixian City Operations Center', en: '泗县城市综合运行管理平台' },
  langToggle: { zh: 'EN', en: '中' },
  langToggleTitle: { zh: 'Switch to English', en: '切换到中文' },
  serverOk: { zh: '服务正常', en: 'Server OK' },
  serverDown: { zh: '服务异常', en: 'Server unreachable' },
  serverChecking: { zh: '连接中…', en: 'Connecting…' },
  serverDownToast: { zh: '无法连接服务器', en: 'Cannot reach the server' },
  serverBackToast: { zh: '服务器已恢复连接', en: 'Server reachable again' },
  layers: { zh: '图层', en: 'Layers' },
  layersLoading: { zh: '正在加载图层目录…', en: 'Loading the layer catalog…' },
  layersEmpty: { zh: '没有可显示的图层', en: 'No layers to show' },
  collapsePanel: { zh: '收起图层面板', en: 'Hide the layer panel' },
  expandPanel: { zh: '展开图层面板', en: 'Show the layer panel' },
  synthetic: { zh: '示意', en: 'synthetic' },
  syntheticTitle: { zh: '示意数据（生成数据，非真实）', en: 'Synthetic data (generated, not real)' },
  syntheticAttribution: { zh: '示意数据 / synthetic data', en: '示意数据 / synthetic data' },
  zoomIn: { zh: '放大后显示', en: 'zoom in to see' },
  zoomOut: { zh: '缩小后显示', en: 'zoom out to see' },
  catalogFailed: { zh: '图层目录加载失败', en: 'The layer catalog failed to load' },
  retry: { zh: '重试', en: 'Retry' },
  close: { zh: '关闭', en: 'Close' },
  mapError: { zh: '地图数据加载失败', en: 'Map data failed to load' },
  view2d: { zh: '2D', en: '2D' },
  view3d: { zh: '3D', en: '3D' },
  view2dTitle: { zh: '平面视图', en: 'Flat view' },
  view3dTitle: { zh: '三维视图（建筑立体显示）', en: '3D view (buildings stand up)' },
  home: { zh: '全县', en: 'County' },
  homeTitle: { zh: '回到全县视图', en: 'Back to the whole county' },
  alsoHere: { zh: '此处还有：', en: 'Also here: ' },
  noAttributes: { zh: '无属性', en: 'No attributes' },
  yes: { zh: '是', en: 'yes' },
  no: { zh: '否', en: 'no' },
  department: { zh: '责任部门', en: 'Department' },
} satisfies Record<string, Bilingual>;

export type StringKey = keyof typeof STRINGS;

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

export function getLang(): Lang {
  return current;
}

/** The other language: shown small beneath the main one. */
export function otherLang(lang: Lang = current): Lang {
  return lang === 'zh' ? 'en' : 'zh';
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

/** A console string in the current (or given) language. */
export function t(key: StringKey, lang: Lang = current): string {
  return STRINGS[key][lang];
}

/** Chooses from a bilingual text of the catalog, falling back to the other language. */
export function pick(text: Bilingual | null | undefined, lang: Lang = current): string {
  if (!text) return '';
  return text[lang] || text[otherLang(lang)] || '';
}

/** BCP 47 locale for number and date formatting. */
export function locale(lang: Lang = current): string {
  return lang === 'zh' ? 'zh-CN' : 'en-GB';
}

document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
