/** The congestion legend over the map: the five levels and unknown, the pilot casing, and how the
 *  two directions are drawn. Shown while the congestion overlay is. */

import { el } from '../dom';
import { getLang, onLangChange, otherLang, pick } from '../i18n';
import { tt } from './strings';
import { LEVELS, LEVEL_COLORS, LEVEL_NAMES } from './types';

export class Legend {
  readonly root = el('div', 'traffic-legend');

  constructor(stage: HTMLElement) {
    this.root.dataset.testid = 'traffic-legend';
    this.root.hidden = true;
    stage.append(this.root);
    onLangChange(() => this.render());
    this.render();
  }

  setVisible(visible: boolean): void {
    this.root.hidden = !visible;
  }

  private render(): void {
    const lang = getLang();
    const title = el('div', 'traffic-legend-title');
    title.append(el('span', 'name-main', tt('legend', lang)), el('span', 'name-sub', tt('legend', otherLang(lang))));
    const list = el('ul', 'traffic-legend-list');
    for (const level of LEVELS) {
      const li = el('li', 'traffic-legend-item');
      li.dataset.level = String(level);
      const swatch = el('span', 'traffic-legend-swatch');
      swatch.style.background = LEVEL_COLORS[level];
      li.append(swatch, el('span', '', pick(LEVEL_NAMES[level], lang)));
      list.append(li);
    }
    const pilot = el('li', 'traffic-legend-item pilot');
    pilot.append(el('span', 'traffic-legend-swatch pilot'), el('span', '', tt('legendPilot', lang)));
    list.append(pilot);
    const note = el('div', 'traffic-legend-note', tt('legendDirections', lang));
    this.root.replaceChildren(title, list, note);
  }
}
