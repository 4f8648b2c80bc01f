/**
 * A case's evidence: its photos (`GET /api/photos/{sha256}`), large at the top of the case so
 * that the dispatcher sees what was reported before anything else, and as thumbnails in the
 * timeline. A photo the server cannot give is a placeholder, not asked for again.
 */

import { absoluteUrl } from '../api';
import { t } from '../i18n';
import { el } from './dom';

/** Photos the server could not give: drawn as placeholders without asking again. */
const missingPhotos = new Set<string>();

function missingPhoto(sha: string): HTMLElement {
  const missing = el('span', 'desk-photo-missing', t('photoMissingShort'));
  missing.title = `${t('photoMissing')} (${sha.slice(0, 12)}…)`;
  missing.dataset.testid = 'desk-photo-missing';
  return missing;
}

/** Photos by content hash, as links to the full image; `large` for the evidence at the top. */
export function photoStrip(hashes: string[], large = false): HTMLElement {
  const strip = el('div', large ? 'desk-photos desk-photos-large' : 'desk-photos');
  for (const sha of hashes) {
    const url = absoluteUrl(`/api/photos/${encodeURIComponent(sha)}`);
    const link = el('a', 'desk-photo');
    link.dataset.sha256 = sha;
    strip.append(link);
    if (missingPhotos.has(sha)) {
      link.append(missingPhoto(sha));
      continue;
    }
    link.href = url;
    link.target = '_blank';
    link.rel = 'noopener';
    const img = el('img');
    img.alt = t('casePhoto');
    img.decoding = 'async';
    if (!large) img.loading = 'lazy';
    img.addEventListener('error', () => {
      missingPhotos.add(sha);
      link.replaceChildren(missingPhoto(sha));
      link.removeAttribute('href');
    });
    img.src = url;
    link.append(img);
  }
  return strip;
}

/** The case's photos, large, first in the case (nothing when it has none). */
export function evidence(hashes: string[]): HTMLElement | null {
  if (!hashes.length) return null;
  const box = el('section', 'desk-evidence');
  box.dataset.testid = 'desk-evidence';
  box.append(photoStrip(hashes, true));
  return box;
}
