/** What every view of the data center is given: the user, their rights and the live state. */

import type { Me } from './types';

export interface Ctx {
  /** The signed-in user (with the department code a steward acts for). */
  me: Me;
  can(permission: string): boolean;
  /** Dataset ids the user is subscribed to (kept up to date by the dataset page). */
  subscriptions: Set<string>;
  /** Called by a view when the route's data changed under it (a live notice). */
  onDatasetUpdate(listener: (datasetId: string) => void): () => void;
}

export const CAN = {
  read: 'catalog:read',
  request: 'data:request',
  steward: 'datasets:steward',
  govern: 'datasets:govern',
  personal: 'personal:read',
  live: 'live:read',
  peopleRead: 'people:read',
  peopleCells: 'people:cells',
  peopleConfirm: 'people:confirm',
} as const;

/** Whether the user may act as the steward of `department` (or governs every department). */
export function stewardOf(ctx: Ctx, department: string): boolean {
  return ctx.can(CAN.govern) || (ctx.can(CAN.steward) && ctx.me.department === department);
}

/** Whether the user may act as the provider's steward (answer requests, upload, roll back):
 *  only the department's own steward, not the bureau. */
export function ownSteward(ctx: Ctx, department: string): boolean {
  return ctx.can(CAN.steward) && ctx.me.department === department;
}
