/**
 * The small map of the report form: the county's public layers from this server's tiles (the
 * catalog says which; no basemap, nothing from outside) and a draggable pin. Tapping the map
 * moves the pin too. Without the network the map stays dark but the pin still works.
 */

import 'maplibre-gl/dist/maplibre-gl.css';
import maplibregl, { type LayerSpecification } from 'maplibre-gl';
import { baseStyle, styleLayers, vectorSource, type Catalog } from '../catalog';

const PIN_ZOOM = 16;
const SYNTHETIC = '示意数据 / synthetic data';

declare global {
  interface Window {
    /** The report form's map, for end-to-end tests. */
    __reportMap?: maplibregl.Map;
  }
}

/** The form's map never tilts: extrusions (buildings) are drawn as plain footprints. */
function flat(spec: LayerSpecification): LayerSpecification {
  if (spec.type !== 'fill-extrusion') return spec;
  const paint = (spec.paint ?? {}) as Record<string, unknown>;
  return {
    id: spec.id,
    type: 'fill',
    source: spec.source,
    'source-layer': spec['source-layer'],
    ...(spec.filter ? { filter: spec.filter } : {}),
    ...(spec.minzoom !== undefined ? { minzoom: spec.minzoom } : {}),
    ...(spec.maxzoom !== undefined ? { maxzoom: spec.maxzoom } : {}),
    layout: { visibility: spec.layout?.visibility ?? 'visible' },
    paint: {
      'fill-color': (paint['fill-extrusion-color'] ?? '#8fb8de') as string,
      'fill-opacity': 0.55,
      'fill-outline-color': '#d6ecff',
    },
  } as LayerSpecification;
}

export class LocationMap {
  readonly map: maplibregl.Map;
  private readonly marker: maplibregl.Marker;
  private readonly moved = new Set<(lon: number, lat: number) => void>();
  private placed = false;
  catalog: Catalog | null = null;

  constructor(container: HTMLElement, center: [number, number]) {
    this.map = new maplibregl.Map({
      container,
      style: baseStyle(),
      center,
      zoom: 12,
      minZoom: 7,
      maxZoom: 19,
      maxPitch: 0,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      localIdeographFontFamily: false,
      attributionControl: { compact: true },
      fadeDuration: 0,
    });
    this.map.touchZoomRotate.disableRotation();
    // Tiles that fail offline are expected: the pin does not need them.
    this.map.on('error', () => undefined);
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    // On a phone the attribution opens over a third of the small map: fold it (ⓘ opens it)
    // once it has something to say, as MapLibre does on the first drag.
    const fold = () => {
      const box = container.querySelector('.maplibregl-ctrl-attrib.maplibregl-compact');
      if (!box) return;
      box.classList.remove('maplibregl-compact-show');
      this.map.off('idle', fold);
    };
    this.map.on('idle', fold);
    const pin = document.createElement('div');
    pin.className = 'rp-pin';
    pin.dataset.testid = 'pin';
    this.marker = new maplibregl.Marker({ element: pin, draggable: true, anchor: 'bottom' })
      .setLngLat(center);
    this.marker.on('dragend', () => this.emit());
    this.map.on('click', (e) => {
      this.marker.setLngLat(e.lngLat);
      if (!this.placed) this.marker.addTo(this.map);
      this.placed = true;
      this.emit();
    });
    window.__reportMap = this.map;
  }

  onMove(listener: (lon: number, lat: number) => void): void {
    this.moved.add(listener);
  }

  private emit(): void {
    const { lng, lat } = this.marker.getLngLat();
    for (const listener of this.moved) listener(lng, lat);
  }

  /** Adds the public layers of the catalog that are shown by default. */
  addLayers(catalog: Catalog): void {
    this.catalog = catalog;
    const add = () => {
      for (const layer of catalog.layers) {
        if (!layer.public || !layer.visible || this.map.getSource(layer.id)) continue;
        this.map.addSource(layer.id, vectorSource(layer, SYNTHETIC));
        for (const spec of styleLayers(layer, true)) this.map.addLayer(flat(spec));
      }
    };
    if (this.map.isStyleLoaded()) add();
    else this.map.once('load', add);
  }

  /** Puts the pin at a position (a GPS fix) and centres the map there. */
  setPosition(lon: number, lat: number): void {
    this.marker.setLngLat([lon, lat]);
    if (!this.placed) this.marker.addTo(this.map);
    this.placed = true;
    this.map.jumpTo({ center: [lon, lat], zoom: Math.max(this.map.getZoom(), PIN_ZOOM) });
  }

  /** The pin where nothing better is known (no GPS): the map's centre, to be dragged. */
  placeAtCenter(): [number, number] {
    const c = this.map.getCenter();
    this.setPosition(c.lng, c.lat);
    return [c.lng, c.lat];
  }

  get hasPin(): boolean {
    return this.placed;
  }

  resize(): void {
    this.map.resize();
  }
}
