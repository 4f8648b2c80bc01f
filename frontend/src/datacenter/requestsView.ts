/** 我的申请 · My requests: the caller's requests with status, steps, due times and grant period. */

import type { Ctx } from './context';
import { requests } from './dcApi';
import { s } from './i18n';
import { requestList } from './requestCard';
import { el, failure, loadingNode, section } from './ui';

export async function renderRequests(view: HTMLElement, _ctx: Ctx, stale: () => boolean): Promise<void> {
  const { root, body } = section(s('tabRequests'), 'my-requests');
  view.append(root);
  const load = async (): Promise<void> => {
    body.replaceChildren(loadingNode());
    try {
      const list = await requests('mine');
      if (stale()) return;
      list.sort((a, b) => b.created_at.localeCompare(a.created_at));
      body.replaceChildren(requestList(list, 'mine', () => void load(), 'my-request-list'));
    } catch (err) {
      if (!stale()) body.replaceChildren(failure(err, () => void load()));
    }
  };
  await load();
  if (!stale() && !body.childElementCount) body.append(el('p', 'dc-empty', s('noRequests')));
}
