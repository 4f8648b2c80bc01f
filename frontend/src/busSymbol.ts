/**
 * The symbol layer that draws buses, shared by the live buses (buses.ts) and the replay
 * (replayMap.ts): the runtime-drawn puck (busIcon.ts) rotated by heading, with its label.
 */

import type { LayerSpecification } from 'maplibre-gl';
import { BUS_ICON } from './busIcon';

const FONT = ['Noto Sans CJK SC Regular'];

type SymbolLayer = Extract<LayerSpecification, { type: 'symbol' }>;
type SymbolPaint = NonNullable<SymbolLayer['paint']>;

/** A symbol layer of buses (the live ones and the replay's): the runtime-drawn puck rotated by
 *  the feature's `heading`, sized by zoom (`sizes` at zooms 8, 12 and 16), outlined, and its
 *  `label` shown from `labelZoom` on; `layout` adds to or overrides the layout. */
export function busSymbolLayer(o: {
  id: string;
  source: string;
  sizes: [number, number, number];
  labelZoom: number;
  iconColor: SymbolPaint['icon-color'];
  textColor: SymbolPaint['text-color'];
  layout?: SymbolLayer['layout'];
}): SymbolLayer {
  return {
    id: o.id,
    type: 'symbol',
    source: o.source,
    layout: {
      'icon-image': BUS_ICON,
      'icon-size': ['interpolate', ['linear'], ['zoom'], 8, o.sizes[0], 12, o.sizes[1], 16, o.sizes[2]],
      'icon-rotate': ['get', 'heading'],
      'icon-rotation-alignment': 'map',
      'icon-pitch-alignment': 'map',
      'icon-allow-overlap': true,
      'icon-ignore-placement': true,
      'text-field': ['step', ['zoom'], '', o.labelZoom, ['get', 'label']],
      'text-font': FONT,
      'text-size': 11,
      'text-offset': [0, 1.5],
      'text-anchor': 'top',
      'text-optional': true,
      ...o.layout,
    },
    paint: {
      'icon-color': o.iconColor,
      'icon-halo-color': '#04101c',
      'icon-halo-width': 1.2,
      'text-color': o.textColor,
      'text-halo-color': '#04101c',
      'text-halo-width': 1.4,
    },
  };
}
