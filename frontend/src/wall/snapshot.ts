/**
 * The snapshot button: POST /api/snapshots with what the wall shows (view, bbox, zoom, language,
 * area), then a toast with the file's link. The snapshot itself is made by the server.
 */

import type { Map as MapLibreMap } from 'maplibre-gl';
import { absoluteUrl, postJSON } from '../api';
import { el } from '../dom';
import { getLang } from '../i18n';
import { describeError, toast } from '../toast';
import { areaBody, type Area } from './domains';
import { w } from './text';

export interface SnapshotRecord {
  id: number;
  title: string;
  file_name: string;
  url: string;
}

export function snapshotButton(current: () => { view: string; map: MapLibreMap; area: Area | null }): HTMLElement {
  const wrap = el('span', 'wall-snapshot');
  const button = el('button', 'wall-tool', w('snapshot'));
  button.type = 'button';
  button.dataset.testid = 'wall-snapshot';
  const link = el('a', 'wall-snapshot-link', w('download'));
  link.hidden = true;
  link.dataset.testid = 'wall-snapshot-link';
  button.addEventListener('click', async () => {
    const { view, map, area } = current();
    const b = map.getBounds();
    button.disabled = true;
    try {
      const body: Record<string, unknown> = {
        view, bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => Math.round(v * 1e5) / 1e5),
        zoom: Math.round(map.getZoom() * 100) / 100, lang: getLang(),
      };
      const cut = areaBody(area);
      if (cut) body.area = cut;
      const made = await postJSON<SnapshotRecord>('/api/snapshots', body);
      if (!made) throw new Error('no answer');
      link.href = absoluteUrl(made.url);
      link.download = made.file_name;
      link.textContent = `${w('download')} ${made.file_name}`;
      link.hidden = false;
      toast(w('snapshotDone'), made.title, { kind: 'info' });
    } catch (err) {
      toast(w('snapshotFailed'), describeError(err));
    } finally {
      button.disabled = false;
    }
  });
  wrap.append(button, link);
  return wrap;
}
