/**
 * Names looked up in bilingual tables ({zh, en} per key), shared by the alarm kinds and the
 * dispatch desk's words: a key without an entry is shown as it is ("bit_16" stays "bit_16").
 */

import { getLang, pick, type Bilingual, type Lang } from './i18n';

/** `(key, lang)` -> the key's name in `lang` (the current language by default), or the key itself. */
export function nameLookup(table: Record<string, Bilingual>): (key: string, lang?: Lang) => string {
  return (key, lang = getLang()) => (Object.hasOwn(table, key) ? pick(table[key], lang) : key);
}
