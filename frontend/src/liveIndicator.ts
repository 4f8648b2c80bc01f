/**
 * The header's light for the live connection: connected, connecting, reconnecting, or not
 * signed in (bilingual, with `data-state` for tests).
 */

import { onLangChange, t, type StringKey } from './i18n';
import type { LiveConnection, LiveState } from './live';

const TEXTS: Record<LiveState, StringKey> = {
  connecting: 'liveConnecting',
  connected: 'liveConnected',
  reconnecting: 'liveReconnecting',
  unauthorized: 'liveUnauthorized',
};

export function liveIndicator(live: LiveConnection): HTMLElement {
  const root = document.createElement('div');
  root.className = 'server-status live-status';
  root.dataset.testid = 'live-status';
  root.setAttribute('role', 'status');
  const dot = document.createElement('span');
  dot.className = 'status-dot';
  const text = document.createElement('span');
  text.className = 'status-text';
  root.append(dot, text);
  let state: LiveState = live.currentState;
  const render = (): void => {
    root.dataset.state = state;
    text.textContent = t(TEXTS[state]);
    root.title = t('liveTitle');
  };
  live.onState((next) => {
    state = next;
    render();
  });
  onLangChange(render);
  render();
  return root;
}
