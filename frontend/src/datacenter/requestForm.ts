/**
 * 申请数据 · the request form of a dataset page: purpose (required), the fields needed
 * (checkboxes; none ticked = every field), the period in days ->
 * `POST /api/datasets/{id}/requests`. The server's 422 message is shown inline.
 */

import { toast } from '../toast';
import { requestData } from './dcApi';
import { s } from './i18n';
import type { DataRequest, DatasetDetail } from './types';
import { el, errorText, field } from './ui';

export function requestForm(d: DatasetDetail, onDone: (request: DataRequest | null) => void, onCancel: () => void): HTMLFormElement {
  const form = el('form', 'dc-form dc-request-form');
  form.dataset.testid = 'request-form';
  form.noValidate = true; // the server says what is wrong (a request without a purpose is 422)
  form.append(el('h3', 'dc-h3', s('requestTitle')));
  if (d.share_type === 'none') form.append(el('p', 'dc-note dc-note-warn', s('requestNone')));
  const purpose = el('textarea', 'dc-input dc-textarea');
  purpose.name = 'purpose';
  purpose.rows = 3;
  purpose.maxLength = 2000;
  purpose.dataset.testid = 'request-purpose';
  form.append(field(s('purpose'), purpose));

  const boxes = el('fieldset', 'dc-fieldset');
  boxes.append(el('legend', '', s('fieldsNeeded')));
  const checks: HTMLInputElement[] = [];
  for (const f of d.fields.filter((x) => x.data_type !== 'geometry')) {
    const check = el('input');
    check.type = 'checkbox';
    check.value = f.name;
    check.dataset.testid = 'request-field';
    checks.push(check);
    const lab = el('label', 'dc-check');
    lab.append(check, el('span', '', `${f.name_zh} · ${f.name}`));
    boxes.append(lab);
  }
  if (checks.length) form.append(boxes);

  const period = el('input', 'dc-input dc-number');
  period.type = 'number';
  period.min = '1';
  period.max = '1830';
  period.value = '365';
  period.dataset.testid = 'request-period';
  form.append(field(s('periodDays'), period));

  const error = el('div', 'dc-form-error');
  error.setAttribute('role', 'alert');
  error.dataset.testid = 'request-error';
  const submit = el('button', 'dc-button dc-button-primary', s('submit'));
  submit.type = 'submit';
  submit.dataset.testid = 'request-submit';
  const cancel = el('button', 'dc-button', s('cancel'));
  cancel.type = 'button';
  cancel.addEventListener('click', onCancel);
  const actions = el('div', 'dc-actions');
  actions.append(submit, cancel);
  form.append(error, actions);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    error.textContent = '';
    const days = Number.parseInt(period.value, 10);
    requestData(d.id, {
      purpose: purpose.value,
      fields: checks.filter((c) => c.checked).map((c) => c.value),
      period_days: Number.isFinite(days) ? days : 365,
    })
      .then((request) => {
        toast(s('requestSent'), request ? `#${request.id} · ${d.name}` : d.name, { kind: 'info' });
        onDone(request);
      })
      .catch((err: unknown) => {
        error.textContent = errorText(err);
        purpose.focus();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  return form;
}
