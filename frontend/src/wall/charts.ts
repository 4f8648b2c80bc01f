/**
 * A domain's charts with ECharts, tree-shaken: only echarts/core, the bar, line and pie charts,
 * the grid and tooltip components and the canvas renderer are bundled (about a third of the
 * full build). Sizes follow the wall's k (ECharts measures in pixels). Clicking a bar, point or
 * slice calls `onPick(label)` (the domain view filters the chart's map layer by it).
 */

import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import type { ChartDef, ChartRow } from './domains';

echarts.use([BarChart, LineChart, PieChart, GridComponent, TooltipComponent, CanvasRenderer]);

const TEXT = '#d7e6f5';
const DIM = '#8aa4bd';
const LINE = 'rgba(79, 195, 247, 0.28)';
const PALETTE = ['#4fc3f7', '#1de9b6', '#ffb74d', '#ef5350', '#ba68c8', '#aed581', '#ffd54f', '#90a4ae'];

function k(): number {
  return Number(document.documentElement.dataset.k ?? 1) || 1;
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
  const base = { animationDuration: 500, textStyle: { color: TEXT, fontSize: font }, color: PALETTE,
    tooltip: { trigger: def.type === 'pie' ? 'item' : 'axis', textStyle: { fontSize: font } } };
  const emphasis = (label: string): Record<string, unknown> => selected && label !== selected ? { opacity: 0.35 } : {};
  if (def.type === 'pie') {
    return { ...base, series: [{ type: 'pie', radius: ['40%', '70%'], label: { color: TEXT, fontSize: font },
      data: rows.map((r) => ({ name: r.label, value: r.value, itemStyle: emphasis(r.label) })) }] };
  }
  const ranking = def.type === 'ranking';
  const ordered = ranking ? [...rows].sort((a, b) => a.value - b.value) : rows;
  const labels = [...new Set(ordered.map((r) => r.label))];
  const category = { type: 'category', data: labels, axisLabel: { color: DIM, fontSize: font }, axisLine: { lineStyle: { color: LINE } } };
  const value = { type: 'value', axisLabel: { color: DIM, fontSize: font }, splitLine: { lineStyle: { color: LINE } } };
  const series = [...bySeries(ordered).entries()].map(([name, list]) => ({
    name, type: def.type === 'line' ? 'line' : 'bar', smooth: def.type === 'line',
    data: labels.map((label) => {
      const row = list.find((r) => r.label === label);
      return { value: row ? row.value : null, itemStyle: emphasis(label) };
    }),
    barMaxWidth: 18 * s,
  }));
  return { ...base, grid: { left: 8 * s, right: 12 * s, top: 12 * s, bottom: 8 * s, containLabel: true },
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
