/**
 * A domain's charts with ECharts, tree-shaken: only echarts/core, the bar, line and pie charts,
 * the grid, legend and tooltip components and the canvas renderer are bundled (about a third of
 * the full build). Sizes follow the wall's k (ECharts measures in pixels). Value axes carry few
 * ticks in compact numbers (1.2万 / 1.2k) so they never crowd; a chart of several series has a
 * legend. Clicking a bar, point or slice calls `onPick(label)` (the domain view filters the
 * chart's map layer by it).
 */

import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { getLang, type Lang } from '../i18n';
import type { ChartDef, ChartRow } from './domains';

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

const TEXT = '#d7e6f5';
const DIM = '#8aa4bd';
const LINE = 'rgba(79, 195, 247, 0.28)';
const PALETTE = ['#4fc3f7', '#1de9b6', '#ffb74d', '#ef5350', '#ba68c8', '#aed581', '#ffd54f', '#90a4ae'];

function k(): number {
  return Number(document.documentElement.dataset.k ?? 1) || 1;
}

const COMPACT: Record<Lang, [number, string][]> = {
  zh: [[1e8, '亿'], [1e4, '万'], [1e3, '千']],
  en: [[1e9, 'B'], [1e6, 'M'], [1e3, 'k']],
};

/** An axis number in few characters: 12000 -> "1.2万" (zh) / "12k" (en); small ones as they are. */
export function compactNumber(value: number, lang: Lang = getLang()): string {
  const abs = Math.abs(value);
  for (const [size, suffix] of COMPACT[lang]) {
    if (abs >= size) return `${Number((value / size).toFixed(abs / size >= 100 ? 0 : 1))}${suffix}`;
  }
  return String(Number(value.toFixed(abs >= 10 ? 0 : 2)));
}

/** Rows by series (null: one series). */
function bySeries(rows: ChartRow[]): Map<string, ChartRow[]> {
  const out = new Map<string, ChartRow[]>();
  for (const row of rows) {
    const key = row.series ?? '';
    out.set(key, [...(out.get(key) ?? []), row]);
  }
  return out;
}

export function chartOption(def: ChartDef, rows: ChartRow[], selected: string | null): echarts.EChartsCoreOption {
  const s = k();
  const font = 14 * s;
  const full = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString(getLang() === 'zh' ? 'zh-CN' : 'en-GB') : String(v ?? '—'));
  const base = { animationDuration: 500, textStyle: { color: TEXT, fontSize: font }, color: PALETTE,
    tooltip: { trigger: def.type === 'pie' ? 'item' : 'axis', textStyle: { fontSize: font }, valueFormatter: full } };
  const emphasis = (label: string): Record<string, unknown> => selected && label !== selected ? { opacity: 0.35 } : {};
  if (def.type === 'pie') {
    return { ...base, series: [{ type: 'pie', radius: ['40%', '70%'], label: { color: TEXT, fontSize: font },
      data: rows.map((r) => ({ name: r.label, value: r.value, itemStyle: emphasis(r.label) })) }] };
  }
  const ranking = def.type === 'ranking';
  const ordered = ranking ? [...rows].sort((a, b) => a.value - b.value) : rows;
  const labels = [...new Set(ordered.map((r) => r.label))];
  // A ranking's names are cut at ~11 characters (the full name is in the tooltip), so the bars
  // keep their width; a horizontal value axis has room for about four ticks.
  const category = { type: 'category', data: labels, axisLine: { lineStyle: { color: LINE } },
    axisLabel: { color: DIM, fontSize: font, hideOverlap: true, ...(ranking ? { width: 11 * font, overflow: 'truncate' } : {}) } };
  const value = { type: 'value', splitNumber: ranking ? 3 : 4,
    axisLabel: { color: DIM, fontSize: font, hideOverlap: true, formatter: (v: number) => compactNumber(v) },
    splitLine: { lineStyle: { color: LINE } } };
  const groups = [...bySeries(ordered).entries()];
  const legend = groups.length > 1;
  const series = groups.map(([name, list]) => ({
    name, type: def.type === 'line' ? 'line' : 'bar', smooth: def.type === 'line',
    data: labels.map((label) => {
      const row = list.find((r) => r.label === label);
      return { value: row ? row.value : null, itemStyle: emphasis(label) };
    }),
    barMaxWidth: 18 * s,
  }));
  return { ...base, grid: { left: 8 * s, right: 16 * s, top: (legend ? 32 : 12) * s, bottom: 8 * s, containLabel: true },
    legend: { show: legend, top: 0, right: 0, itemWidth: 14 * s, itemHeight: 10 * s, textStyle: { color: TEXT, fontSize: font } },
    xAxis: ranking ? value : category, yAxis: ranking ? category : value, series };
}

export class WallChart {
  readonly root: HTMLElement;
  private readonly chart: echarts.ECharts;
  private rows: ChartRow[] = [];
  selected: string | null = null;

  constructor(readonly def: ChartDef, host: HTMLElement, onPick: (label: string) => void) {
    this.root = host;
    this.chart = echarts.init(host, undefined, { renderer: 'canvas' });
    this.chart.on('click', (params) => {
      if (typeof params.name === 'string' && params.name) onPick(params.name);
    });
    new ResizeObserver(() => this.chart.resize()).observe(host);
  }

  setRows(rows: ChartRow[]): void {
    this.rows = rows;
    this.render();
  }

  select(label: string | null): void {
    this.selected = label;
    this.render();
  }

  private render(): void {
    this.chart.setOption(chartOption(this.def, this.rows, this.selected), { notMerge: true });
  }

  dispose(): void {
    this.chart.dispose();
  }
}
