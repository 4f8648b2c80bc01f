/** The bureau's choice of a department to open (a select of the catalog's departments). */

import { departments } from './dcApi';
import { named, s } from './i18n';
import { el } from './ui';

export function bureauDepartmentPicker(current: string): HTMLElement {
  const select = el('select', 'dc-select');
  select.dataset.testid = 'department-picker';
  select.setAttribute('aria-label', s('chooseDepartment'));
  const first = el('option', '', s('chooseDepartment'));
  first.value = '';
  select.append(first);
  departments()
    .then((list) => {
      for (const d of list) {
        const option = el('option', '', `${named(d.name, d.name_en)} (${d.code})`);
        option.value = d.code;
        select.append(option);
      }
      select.value = current;
    })
    .catch(() => { select.disabled = true; });
  select.addEventListener('change', () => {
    if (select.value) location.hash = `#department/${encodeURIComponent(select.value)}`;
  });
  return select;
}
