/**
 * Signing in and out. The server keeps the session in an HttpOnly cookie (same-origin fetches,
 * tiles and the websocket handshake carry it), so the console keeps no token.
 *
 * - At start `GET /api/auth/session`: signed in, or not (the login screen); 404 this server has no
 *   login (everything is open), the console runs without a user.
 * - Any later 401 (an API call, a tile, the websocket) brings the login screen back over the
 *   running console; after signing in, the `onLogin` listeners reload their data.
 * - The header shows the user's name and a sign-out button (sign-out reloads the page).
 */

import { ApiError, getJSON, isStatus, onUnauthorized, postJSON } from './api';
import { getLang, onLangChange, otherLang, setLang, t } from './i18n';
import { describeError } from './toast';

export interface User {
  username: string;
  display_name: string | null;
  roles: string[];
  permissions: string[];
}

type Mode = 'checking' | 'signed-in' | 'signed-out' | 'open';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

export class Auth {
  private mode: Mode = 'checking';
  private current: User | null = null;
  private readonly overlay: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly username: HTMLInputElement;
  private readonly password: HTMLInputElement;
  private readonly submit: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly reason: HTMLElement;
  private readonly userBox: HTMLElement;
  private readonly userName: HTMLElement;
  private readonly logoutButton: HTMLButtonElement;
  private readonly loginListeners = new Set<() => void>();
  private readonly userListeners = new Set<() => void>();
  private resolveReady: (() => void) | null = null;
  private busy = false;
  /** Resolves once the console may load its data (signed in, or a server without login). */
  readonly ready: Promise<void>;

  constructor(host: HTMLElement) {
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
    this.overlay = el('div', 'login-overlay');
    this.overlay.dataset.testid = 'login';
    this.overlay.hidden = true;
    const card = el('div', 'login-card');
    const brand = el('div', 'login-brand');
    const logo = el('span', 'brand-logo');
    logo.setAttribute('aria-hidden', 'true');
    const names = el('div', 'login-names');
    names.append(el('h1', 'login-title'), el('div', 'login-subtitle'));
    brand.append(logo, names);
    const lang = el('button', 'lang-toggle login-lang');
    lang.type = 'button';
    lang.dataset.testid = 'login-lang';
    lang.addEventListener('click', () => setLang(getLang() === 'zh' ? 'en' : 'zh'));
    this.reason = el('p', 'login-reason');
    this.form = el('form', 'login-form');
    this.form.dataset.testid = 'login-form';
    this.username = el('input', 'login-input');
    this.username.name = 'username';
    this.username.autocomplete = 'username';
    this.username.required = true;
    this.username.dataset.testid = 'login-username';
    this.password = el('input', 'login-input');
    this.password.type = 'password';
    this.password.name = 'password';
    this.password.autocomplete = 'current-password';
    this.password.required = true;
    this.password.dataset.testid = 'login-password';
    this.error = el('div', 'login-error');
    this.error.dataset.testid = 'login-error';
    this.error.setAttribute('role', 'alert');
    this.submit = el('button', 'login-submit');
    this.submit.type = 'submit';
    this.submit.dataset.testid = 'login-submit';
    const userLabel = el('label', 'login-label');
    userLabel.append(el('span', 'login-label-text'), this.username);
    const passLabel = el('label', 'login-label');
    passLabel.append(el('span', 'login-label-text'), this.password);
    this.form.append(userLabel, passLabel, this.error, this.submit);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.signIn();
    });
    card.append(lang, brand, this.reason, this.form);
    this.overlay.append(card);
    host.append(this.overlay);

    this.userBox = el('div', 'user-box');
    this.userBox.hidden = true;
    this.userName = el('span', 'user-name');
    this.userName.dataset.testid = 'user-name';
    this.logoutButton = el('button', 'logout-button');
    this.logoutButton.type = 'button';
    this.logoutButton.dataset.testid = 'logout';
    this.logoutButton.addEventListener('click', () => void this.signOut());
    this.userBox.append(this.userName, this.logoutButton);

    onUnauthorized(() => this.required());
    onLangChange(() => this.renderTexts());
    this.renderTexts();
  }

  /** The header's user name and sign-out button. */
  get headerElement(): HTMLElement {
    return this.userBox;
  }

  get user(): User | null {
    return this.current;
  }

  /** Whether the user holds `permission` (always true on a server without login). */
  can(permission: string): boolean {
    if (this.mode === 'open' || this.mode === 'checking') return true;
    return !!this.current?.permissions.includes(permission);
  }

  /** Called after a sign-in that followed a 401 in a running console. */
  onLogin(listener: () => void): void {
    this.loginListeners.add(listener);
  }

  /** Called when the user changes (signed in, out). */
  onUser(listener: () => void): void {
    this.userListeners.add(listener);
  }

  async start(): Promise<void> {
    try {
      // Always 200 (signed in or not): an expected "not signed in" logs no error in the browser.
      const body = await getJSON<{ signed_in?: boolean; user?: User }>('/api/auth/session', {}, { quiet401: true });
      if (body.signed_in === false) this.showLogin(false);
      else if (body.user) this.signedIn(body.user);
      else this.open();
    } catch (err) {
      if (isStatus(err, 401)) this.showLogin(false);
      else this.open(); // 404: no login on this server; otherwise its failure shows elsewhere
    }
  }

  /** Something answered 401: the session is missing or over. */
  required(): void {
    if (this.mode === 'signed-out') return;
    const wasIn = this.mode === 'signed-in' || this.mode === 'open';
    this.showLogin(wasIn);
  }

  private open(): void {
    this.mode = 'open';
    this.finishReady();
  }

  private finishReady(): void {
    const resolve = this.resolveReady;
    this.resolveReady = null;
    resolve?.();
  }

  private signedIn(user: User): void {
    const wasOut = this.mode === 'signed-out';
    this.mode = 'signed-in';
    this.current = user;
    this.overlay.hidden = true;
    document.body.classList.remove('login-open');
    this.renderUser();
    for (const listener of this.userListeners) listener();
    if (this.resolveReady) this.finishReady();
    else if (wasOut) for (const listener of this.loginListeners) listener();
  }

  private showLogin(expired: boolean): void {
    this.mode = 'signed-out';
    this.reason.textContent = expired ? t('sessionExpired') : '';
    this.reason.hidden = !expired;
    this.error.textContent = '';
    this.password.value = '';
    this.overlay.hidden = false;
    document.body.classList.add('login-open');
    this.renderTexts();
    requestAnimationFrame(() => (this.username.value ? this.password : this.username).focus());
  }

  private async signIn(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error.textContent = '';
    this.renderTexts();
    try {
      const body = await postJSON<{ user?: User }>(
        '/api/auth/login',
        { username: this.username.value.trim(), password: this.password.value },
        { quiet401: true },
      );
      this.password.value = '';
      if (body?.user) this.signedIn(body.user);
      else this.error.textContent = t('signInFailed');
    } catch (err) {
      // 401 wrong password, 429 too many attempts: the server's message says which.
      const detail = err instanceof ApiError && err.detail ? err.detail : describeError(err);
      this.error.textContent = `${t('signInFailed')}: ${detail}`;
      this.password.select();
    } finally {
      this.busy = false;
      this.renderTexts();
    }
  }

  private async signOut(): Promise<void> {
    this.logoutButton.disabled = true;
    try {
      await postJSON('/api/auth/logout', undefined, { quiet401: true });
    } catch {
      // signed out already, or the server is away: the reload shows which
    }
    location.reload();
  }

  private renderUser(): void {
    const user = this.current;
    this.userBox.hidden = !user;
    if (!user) return;
    this.userName.textContent = user.display_name || user.username;
    this.userName.title = `${user.username} · ${user.roles.join(', ')}`;
  }

  private renderTexts(): void {
    const lang = getLang();
    const title = this.overlay.querySelector('.login-title');
    const subtitle = this.overlay.querySelector('.login-subtitle');
    if (title) title.textContent = t('appTitle', lang);
    if (subtitle) subtitle.textContent = t('appTitle', otherLang(lang));
    const labels = this.form.querySelectorAll('.login-label-text');
    if (labels[0]) labels[0].textContent = t('username', lang);
    if (labels[1]) labels[1].textContent = t('password', lang);
    this.submit.textContent = t(this.busy ? 'signingIn' : 'signIn', lang);
    this.submit.disabled = this.busy;
    const langButton = this.overlay.querySelector<HTMLButtonElement>('.login-lang');
    if (langButton) {
      langButton.textContent = t('langToggle', lang);
      langButton.title = t('langToggleTitle', lang);
    }
    if (this.mode === 'signed-out' && !this.reason.hidden) this.reason.textContent = t('sessionExpired', lang);
    this.logoutButton.textContent = t('signOut', lang);
    this.logoutButton.title = t('signOutTitle', lang);
  }
}
