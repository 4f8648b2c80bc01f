/**
 * 人口库 · Population: search a person by citizen ID or name for a stated purpose (required
 * first: every full look is recorded with it), the masked result list, the person's record
 * (full for the purpose), household, versions and "who looked at this person". The hash keeps
 * the person: `#people/ID` (the purpose is asked again: it is not kept in the address).
 */

import { CAN, type Ctx } from './context';
import { getLang, isKey, s } from './i18n';
import { accessLog, person, purposes, searchPeople, type PersonRead } from './peopleApi';
import { button, el, failure, facts, fmtTime, loadingNode, section, syntheticTag, table } from './ui';

let chosen = '';  // the purpose picked on this page (not stored: stated again after a reload)

const named = (p: { zh: string | null; en: string | null }): string =>
  (getLang() === 'en' ? p.en : p.zh) ?? p.zh ?? p.en ?? '';

export async function renderPeople(view: HTMLElement, ctx: Ctx, stale: () => boolean, arg: string): Promise<void> {
  if (!ctx.can(CAN.peopleRead)) {  // grid workers: their households are on the phone page
    view.append(el('p', 'dc-empty', s('peopleNoPurpose')));
    return;
  }
  const list = await purposes();
  if (stale()) return;
  const { root, body } = section(s('peopleTitle'), 'people-search');
  view.append(root);
  const why = el('select', 'dc-select') as HTMLSelectElement;
  why.dataset.testid = 'people-purpose';
  why.append(new Option(s('peoplePickPurpose'), ''));
  for (const p of list) why.append(new Option(named(p), p.id));
  why.value = chosen;
  const q = el('input', 'dc-input') as HTMLInputElement;
  q.placeholder = s('peopleQuery');
  q.dataset.testid = 'people-q';
  const go = button('dc-button', s('searchLabel'), () => void search());
  go.dataset.testid = 'people-go';
  const hint = el('p', 'dc-hint', list.length ? s('peoplePurposeWhy') : s('peopleNoPurpose'));
  const results = el('div', 'dc-people-results');
  const record = el('div', 'dc-people-record');
  body.append(hint, why, q, go, results);
  view.append(record);
  const sync = (): void => { go.disabled = !why.value || !q.value.trim(); };
  why.addEventListener('change', () => { chosen = why.value; sync(); });
  q.addEventListener('input', sync);
  sync();
  const open = (id: number): void => void showPerson(record, id, stale);
  const search = async (): Promise<void> => {
    results.replaceChildren(loadingNode());
    try {
      const page = await searchPeople(q.value.trim(), why.value);
      if (stale()) return;
      const rows = page.items.map((p) => {
        const link = el('a', 'dc-link', p.name ?? '—') as HTMLAnchorElement;
        link.href = `#people/${p.id}`;
        link.dataset.testid = 'people-result';
        link.addEventListener('click', (e) => { e.preventDefault(); open(p.id); });
        return [link, p.citizen_id, p.sex, p.age, statusText(p.status), p.grid_code, p.household_no];
      });
      results.replaceChildren(el('p', 'dc-count', `${page.total} ${s('results')}`),
        table(['peopleName', 'peopleId', 'peopleSex', 'peopleAge', 'peopleStatus', 'peopleGrid', 'peopleHousehold'], rows, 'people-results'));
    } catch (err) {
      if (!stale()) results.replaceChildren(failure(err));
    }
  };
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !go.disabled) void search(); });
  const id = Number(arg);
  if (Number.isInteger(id) && id > 0) await showPerson(record, id, stale);
}

function statusText(status: string): string {
  const key = `status_${status}`;
  return isKey(key) ? s(key) : status;
}

async function showPerson(box: HTMLElement, id: number, stale: () => boolean): Promise<void> {
  box.replaceChildren(loadingNode());
  try {
    const p = await person(id, chosen);  // first: this look is then in the log
    const log = await accessLog(id);
    if (stale()) return;
    box.replaceChildren(recordSection(p), householdSection(p), versionsSection(p), logSection(log));
  } catch (err) {
    if (!stale()) box.replaceChildren(failure(err, () => void showPerson(box, id, stale)));
  }
}

function recordSection(p: PersonRead): HTMLElement {
  const { root, body } = section(`${p.name ?? ''} · ${s('peopleRecord')}`, 'people-record');
  const note = p.purpose
    ? el('p', 'dc-hint', `${s('peoplePurpose')}：${named(p.purpose)}（${s('peopleAudited')}）`)
    : el('p', 'dc-hint', s('peopleMaskedNote'));
  note.dataset.testid = 'people-record-purpose';
  if (p.source.synthetic) note.append(' ', syntheticTag());
  body.append(note, facts([
    ['peopleName', p.name], ['peopleId', p.citizen_id], ['peopleSex', p.sex],
    ['peopleBirth', p.birth_date], ['peopleAge', p.age], ['peopleEthnicity', p.ethnicity],
    ['peoplePhone', p.phone], ['peopleRegistered', p.registered_address],
    ['peopleAddress', p.address], ['peopleGrid', `${p.grid_name ?? ''} ${p.grid_code ?? ''}`],
    ['peopleTownship', p.township_name], ['peopleStatus', statusText(p.status)],
    ['peopleRelation', p.relation],
    ['peopleSource', `${p.source.dataset_name ?? p.source.dataset_id}${p.source.version_id ? ` · ${s('peopleSourceVersion')} ${p.source.version_id}` : ''}`],
  ]));
  return root;
}

function householdSection(p: PersonRead): HTMLElement {
  const { root, body } = section(`${s('peopleHousehold')} ${p.household?.household_no ?? ''}`, 'people-household');
  if (!p.household) body.append(el('p', 'dc-empty', s('none')));
  else body.append(table(['peopleName', 'peopleRelation', 'peopleSex', 'peopleAge', 'peopleStatus'],
    p.household.members.map((m) => [m.name, m.relation, m.sex, m.age, statusText(m.status)])));
  return root;
}

function versionsSection(p: PersonRead): HTMLElement {
  const { root, body } = section(s('peopleVersions'), 'people-versions');
  body.append(table(['peopleVersion', 'peopleValidFrom', 'peopleMadeBy'],
    p.versions.map((v) => [v.version, fmtTime(v.valid_from), v.made_by])));
  return root;
}

function logSection(log: Awaited<ReturnType<typeof accessLog>>): HTMLElement {
  const { root, body } = section(s('peopleWhoLooked'), 'people-access-log');
  if (!log.items.length) body.append(el('p', 'dc-empty', s('none')));
  else body.append(table(['peopleAt', 'peopleActor', 'peoplePurpose', 'peopleKind', 'peopleFields'],
    log.items.map((i) => [fmtTime(i.at), i.actor_name ? `${i.actor_name} (${i.actor})` : i.actor,
      i.purpose ? named({ zh: i.purpose_zh, en: i.purpose_en }) || i.purpose : '—', i.kind, i.fields.join(', ')]),
    'people-access-table'));
  return root;
}

