/**
 * 我的网格: the grid worker's cells, a cell's households and a household's members (masked by
 * the server), with the field's changes: a visit, a move out or in, a correction, a death. A
 * change is a draft in the outbox first (client_id = the draft's id) and is sent once when
 * online; below, the worker's changes with their status (GET /api/people/changes/mine) and
 * those still on the phone.
 */

import { applyTexts, onLang, t, tMaybe, type Key } from './i18n';
import { messageOf } from './net';
import type { Outbox } from './outbox';
import { cachedJSON, CORRECTABLE, forgetOthers, idShapeOk, RELATIONS, type Cell, type Change, type Household, type HouseholdItem, type Member } from './people';
import type { ChangeBody } from './store';
import { h, shortTime, toast } from './ui';

type Kind = ChangeBody['kind'];
type View = { at: 'cells' } | { at: 'cell'; cell: Cell } | { at: 'household'; cell: Cell; id: number };
const PAGE = 50;

function select(name: string, options: readonly string[], labels: (o: string) => string = (o) => o): HTMLSelectElement {
  return h('select', { class: 'rp-input', name, testid: `ch-${name}` }, ...options.map((o) => h('option', { value: o }, labels(o))));
}

function field(label: Key, input: HTMLElement): HTMLElement {
  return h('label', { class: 'rp-field' }, h('span', { class: 'rp-label', t: label }), input);
}

export class MyGrid {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private readonly changes: HTMLElement;
  private readonly status: HTMLElement;
  private view: View = { at: 'cells' };
  private owner: string | null = null;

  constructor(private readonly outbox: Outbox) {
    const refresh = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost rp-btn-small', t: 'refresh', testid: 'grid-refresh' });
    refresh.addEventListener('click', () => void this.refresh());
    this.status = h('p', { class: 'rp-note', testid: 'grid-status' });
    this.body = h('div', { testid: 'grid-body' });
    this.changes = h('div', { testid: 'my-changes' });
    this.element = h(
      'section',
      { class: 'rp-panel', testid: 'panel-grid' },
      h('p', { class: 'rp-note', t: 'gridHint' }),
      h('div', { class: 'rp-row rp-row-end' }, refresh),
      this.status,
      this.body,
      h('h2', { class: 'rp-h2', t: 'myChanges' }),
      this.changes,
    );
    applyTexts(this.element);
    onLang(() => void this.refresh());
    // Only while the tab is shown: the outbox changes as cases are drafted and sent too.
    outbox.onChange(() => {
      if (!this.element.hidden) void this.renderChanges();
    });
  }

  setUser(username: string | null): void {
    if (username !== this.owner) this.view = { at: 'cells' };
    this.owner = username;
    forgetOthers(username);
  }

  async refresh(): Promise<void> {
    if (!this.owner) return;
    const view = this.view;
    try {
      if (view.at === 'cells') await this.showCells();
      else if (view.at === 'cell') await this.showCell(view.cell);
      else await this.showHousehold(view.cell, view.id);
    } catch (err) {
      this.status.textContent = `${t('gridUnavailable')} (${messageOf(err)})`;
    }
    await this.renderChanges();
  }

  private go(view: View): void {
    this.view = view;
    void this.refresh();
  }

  private load<T>(path: string): Promise<T> {
    return cachedJSON<T>(path, this.owner ?? '').then(({ data, cached }) => {
      this.status.textContent = cached ? t('gridCached') : '';
      return data;
    });
  }

  private async showCells(): Promise<void> {
    const cells = await this.load<Cell[]>('/api/people/cells');
    const cards = cells.map((c) => {
      const card = h(
        'button',
        { type: 'button', class: 'rp-card rp-grid-cell', testid: 'grid-cell', 'data-grid': c.grid_code },
        h('strong', {}, c.name || c.grid_code),
        h('span', { class: 'rp-note' }, [c.township_name, c.community].filter(Boolean).join(' · ')),
        h('span', { class: 'rp-note' }, `${c.households} `, h('span', { t: 'households' }), ` · ${c.residents} `, h('span', { t: 'residents' })),
      );
      card.addEventListener('click', () => this.go({ at: 'cell', cell: c }));
      return card;
    });
    this.body.replaceChildren(...(cards.length ? cards : [h('p', { class: 'rp-empty', t: 'gridNoCells' })]));
    applyTexts(this.body);
  }

  private back(to: View): HTMLElement {
    const button = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost rp-btn-small', t: 'back', testid: 'grid-back' });
    button.addEventListener('click', () => this.go(to));
    return button;
  }

  private async showCell(cell: Cell, shown = PAGE): Promise<void> {
    const q = `/api/people/households?grid_code=${encodeURIComponent(cell.grid_code)}&limit=${shown}&offset=0`;
    const page = await this.load<{ items: HouseholdItem[]; total: number }>(q);
    const visit = h('button', { type: 'button', class: 'rp-btn rp-btn-small', t: 'recordVisit', testid: 'cell-visit' });
    const drawer = h('div', { class: 'rp-drawer' });
    visit.addEventListener('click', () => this.form(drawer, 'visit', cell.grid_code, {}, cell.name));
    const cards = page.items.map((x) => {
      const card = h(
        'button',
        { type: 'button', class: 'rp-card rp-household', testid: 'household', 'data-id': x.id },
        h('strong', {}, x.address ?? x.household_no),
        h('span', { class: 'rp-note' }, `${x.household_no} · `, h('span', { t: 'head' }), ` ${x.head_name ?? '—'} · ${x.residents}/${x.members} `, h('span', { t: 'residents' })),
      );
      card.addEventListener('click', () => this.go({ at: 'household', cell, id: x.id }));
      return card;
    });
    const more = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost', t: 'more', testid: 'households-more' });
    more.hidden = page.items.length >= page.total;
    more.addEventListener('click', () => void this.showCell(cell, shown + PAGE));
    this.body.replaceChildren(
      h('div', { class: 'rp-row' }, this.back({ at: 'cells' }), h('strong', { class: 'rp-push' }, cell.name || cell.grid_code), visit),
      drawer,
      ...cards,
      more,
    );
    applyTexts(this.body);
  }

  private async showHousehold(cell: Cell, id: number): Promise<void> {
    const hh = await this.load<Household>(`/api/people/households/${id}`);
    const drawer = h('div', { class: 'rp-drawer', testid: 'change-drawer' });
    const visit = h('button', { type: 'button', class: 'rp-btn rp-btn-primary rp-btn-small', t: 'recordVisit', testid: 'household-visit' });
    visit.addEventListener('click', () => this.form(drawer, 'visit', hh.grid_code, { household_id: hh.id }, hh.household_no));
    const moveIn = h('button', { type: 'button', class: 'rp-btn rp-btn-small', t: 'reportMoveIn', testid: 'household-move-in' });
    moveIn.addEventListener('click', () => this.form(drawer, 'move_in', hh.grid_code, { household_id: hh.id }, hh.household_no));
    const members = hh.members.map((m) => this.member(m, hh, drawer));
    this.body.replaceChildren(
      h('div', { class: 'rp-row' }, this.back({ at: 'cell', cell }), h('strong', { class: 'rp-push' }, hh.household_no)),
      h('p', { class: 'rp-card-text', testid: 'household-address' }, hh.address ?? ''),
      h('div', { class: 'rp-actions' }, visit, moveIn),
      drawer,
      h('h3', { class: 'rp-drawer-title', t: 'membersOf' }),
      ...members,
    );
    applyTexts(this.body);
  }

  private member(m: Member, hh: Household, drawer: HTMLElement): HTMLElement {
    const current = m.status === 'resident' || m.status === 'registered_elsewhere';
    const label = `${m.name ?? ''} ${m.relation ?? ''}`;
    const actions = (['move_out', 'correction', 'death'] as const).map((kind) => {
      const b = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost rp-btn-small', t: `ch_${kind}`, testid: `member-${kind}` });
      b.addEventListener('click', () => this.form(drawer, kind, hh.grid_code, { person_id: m.id, household_id: hh.id }, label));
      return b;
    });
    return h(
      'article',
      { class: 'rp-card', testid: 'member', 'data-id': m.id },
      h('div', { class: 'rp-card-head' },
        h('strong', { testid: 'member-name' }, m.name ?? '—'),
        h('span', { class: 'rp-note' }, `${m.relation ?? ''} · ${m.sex ?? ''} · ${m.age ?? '?'}`, h('span', { t: 'age' })),
        h('span', { class: 'rp-badge rp-push' }, tMaybe(`ps_${m.status}`, m.status))),
      h('span', { class: 'rp-note', testid: 'member-id' }, m.citizen_id ?? ''),
      current ? h('div', { class: 'rp-actions' }, ...actions) : null,
    );
  }

  /** The small form of one kind of change, in `drawer`; saving makes an outbox draft. */
  private form(drawer: HTMLElement, kind: Kind, grid: string, about: { person_id?: number; household_id?: number }, who: string): void {
    const inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
    const input = (name: string, type = 'text'): HTMLInputElement => {
      const i = h('input', { class: 'rp-input', name, type, testid: `ch-${name}` });
      inputs[name] = i;
      return i;
    };
    const fields: HTMLElement[] = [];
    if (kind === 'move_out') fields.push(field('chTo', input('to')));
    if (kind === 'death') fields.push(field('chDate', input('date', 'date')));
    if (kind === 'correction') {
      inputs.field = select('field', CORRECTABLE, (o) => tMaybe(`field_${o}`, o));
      fields.push(field('chField', inputs.field), field('chValue', input('value')));
    }
    if (kind === 'move_in') {
      inputs.sex = select('sex', ['男', '女']);
      inputs.relation = select('relation', RELATIONS);
      fields.push(field('chName', input('name')), field('chCitizenId', input('citizen_id')), field('chSex', inputs.sex),
        field('chBirth', input('birth_date', 'date')), field('chRelation', inputs.relation));
    }
    const note = h('textarea', { class: 'rp-input rp-textarea', name: 'note', rows: 2, testid: 'ch-note' });
    const error = h('p', { class: 'rp-warn', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'rp-btn rp-btn-primary', t: 'chSave', testid: 'change-submit' });
    const cancel = h('button', { type: 'button', class: 'rp-btn rp-btn-ghost', t: 'chCancel' });
    cancel.addEventListener('click', () => drawer.replaceChildren());
    const form = h('form', { class: 'rp-form', testid: 'change-form', 'data-kind': kind },
      h('div', { class: 'rp-drawer-title' }, `${t(`ch_${kind}`)} · ${who}`), ...fields, field('chNote', note), error,
      h('div', { class: 'rp-row' }, cancel, save));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const value = (n: string) => (inputs[n]?.value ?? '').trim();
      const payload: Record<string, unknown> = {};
      for (const n of Object.keys(inputs)) if (value(n)) payload[n] = n === 'citizen_id' ? value(n).toUpperCase() : value(n);
      if (kind === 'move_in') {
        if (!idShapeOk(value('citizen_id'))) {
          error.textContent = t('chBadId');
          return;
        }
        payload.household_id = about.household_id;
      }
      const change = { kind, grid_code: grid, ...about, payload, ...(note.value.trim() ? { note: note.value.trim() } : {}) };
      if (kind === 'move_in') delete change.person_id;
      save.disabled = true;
      this.outbox
        .addChange(change, `${t(`ch_${kind}`)} · ${who}`)
        .then(() => {
          drawer.replaceChildren();
          toast(navigator.onLine ? t('chSent') : t('chSaved'));
        })
        .catch((err: unknown) => {
          error.textContent = messageOf(err);
          save.disabled = false;
        });
    });
    drawer.replaceChildren(form);
    applyTexts(form);
    (fields[0]?.querySelector('input,select') as HTMLElement | null)?.focus();
  }

  /** The changes still on the phone, then the server's list of the worker's changes. */
  async renderChanges(): Promise<void> {
    if (!this.owner) return;
    const waiting = this.outbox.drafts.filter((d) => d.change && d.state !== 'sent').reverse();
    const local = waiting.map((d) =>
      h('article', { class: 'rp-card', testid: 'change-draft', 'data-state': d.state },
        h('div', { class: 'rp-card-head' }, h('span', { class: `rp-state rp-state-${d.state}`, t: d.state === 'failed' ? 'stateFailed' : 'stateQueued' }),
          h('span', { class: 'rp-note rp-push' }, shortTime(d.created_at))),
        h('p', { class: 'rp-card-text' }, d.body.description),
        d.error ? h('p', { class: 'rp-warn' }, d.error) : null));
    let sent: HTMLElement[] = [];
    try {
      const mine = (await cachedJSON<Change[]>('/api/people/changes/mine', this.owner)).data;
      sent = mine.map((c) =>
        h('article', { class: 'rp-card', testid: 'my-change', 'data-status': c.status, 'data-client': c.client_id ?? '' },
          h('div', { class: 'rp-card-head' },
            h('span', { class: `rp-state rp-cs-${c.status}` }, tMaybe(`cs_${c.status}`, c.status)),
            h('strong', {}, tMaybe(`ch_${c.kind}`, c.kind)),
            h('span', { class: 'rp-note rp-push' }, shortTime(c.reported_at))),
          h('p', { class: 'rp-card-text' }, [c.person_name, c.household_no].filter(Boolean).join(' · ')),
          c.decision_note ? h('p', { class: 'rp-note' }, c.decision_note) : null));
    } catch {
      // not loaded (offline, nothing kept): the drafts still show
    }
    const all = [...local, ...sent];
    this.changes.replaceChildren(...(all.length ? all : [h('p', { class: 'rp-empty', t: 'myChangesEmpty' })]));
    applyTexts(this.changes);
  }
}
