/**
 * The player row of a replay bar (the bus replay, the traffic day replay): play/pause, the time
 * slider over the marks of where data is, the clock and the speed buttons, and the animation
 * that moves the time while playing. The bar around it loads a window and draws each time the
 * player reaches (`onTime`); it decides whether play may start (`onToggle`).
 */

import { el } from './dom';
import { drawMarks, type ReplayMarks } from './replayMarks';

export interface PlayerOptions {
  /** Test id prefix: `<p>-play`, `<p>-slider`, `<p>-clock`, `<p>-marks`. */
  testid: string;
  speeds: number[];
  speed: number;
  /** The slider's step (ms). */
  step: number;
  /** Draw the replay at time t (epoch ms). */
  onTime: (t: number) => void;
  /** The play button was pressed. */
  onToggle: () => void;
  /** Playing stopped or the speed changed: the bar renders again. */
  onChange: () => void;
  /** The clock's text at time t of the window [from, to]. */
  clock: (t: number, from: number, to: number) => string;
}

export interface PlayerLabels {
  play: string;
  pause: string;
  speed: string;
}

export class ReplayPlayer {
  readonly row = el('div', 'replay-row replay-player');
  from = 0;
  to = 0;
  time = 0;
  speed: number;
  playing = false;
  private frame = 0;
  private lastTick = 0;
  private readonly playButton = el('button', 'replay-play');
  private readonly slider = el('input', 'replay-slider');
  private readonly marksTrack = el('div', 'replay-marks');
  private readonly clock = el('div', 'replay-clock');
  private readonly speedBox = el('div', 'replay-speeds');

  constructor(private readonly o: PlayerOptions) {
    this.speed = o.speed;
    this.playButton.type = 'button';
    this.playButton.dataset.testid = `${o.testid}-play`;
    this.playButton.addEventListener('click', () => o.onToggle());
    this.slider.type = 'range';
    this.slider.step = String(o.step);
    this.slider.dataset.testid = `${o.testid}-slider`;
    this.slider.addEventListener('input', () => this.seek(Number(this.slider.value)));
    this.clock.dataset.testid = `${o.testid}-clock`;
    this.marksTrack.dataset.testid = `${o.testid}-marks`;
    for (const speed of o.speeds) {
      const b = el('button', 'replay-speed', `${speed}x`);
      b.type = 'button';
      b.dataset.speed = String(speed);
      b.addEventListener('click', () => {
        this.speed = speed;
        o.onChange();
      });
      this.speedBox.append(b);
    }
    const track = el('div', 'replay-track');
    track.append(this.marksTrack, this.slider);
    this.row.append(this.playButton, track, this.clock, this.speedBox);
  }

  /** A new window [from, to] with the marks of where data is (drawn up to `marksTo`). */
  setWindow(from: number, to: number, marks: ReplayMarks, marksTo = to): void {
    this.from = from;
    this.to = to;
    this.time = from;
    this.slider.min = String(from);
    this.slider.max = String(to);
    drawMarks(this.marksTrack, marks, from, marksTo);
  }

  play(): void {
    if (this.playing) return;
    if (this.time >= this.to) this.time = this.from;
    this.playing = true;
    this.lastTick = performance.now();
    const step = (now: number): void => {
      if (!this.playing) return;
      const dt = Math.min(now - this.lastTick, 250); // a background tab does not jump ahead
      this.lastTick = now;
      const next = this.time + dt * this.speed;
      if (next >= this.to) {
        this.seek(this.to);
        this.pause();
        return;
      }
      this.seek(next);
      this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
  }

  pause(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.playing) return;
    this.playing = false;
    this.o.onChange();
  }

  /** Moves to time `t` (clamped to the window) and has it drawn. */
  seek(t: number): void {
    this.time = Math.min(this.to, Math.max(this.from, t));
    this.slider.value = String(Math.round(this.time));
    this.renderClock();
    this.o.onTime(this.time);
  }

  renderClock(): void {
    this.clock.textContent = this.o.clock(this.time, this.from, this.to);
  }

  /** `enabled`: a window is loaded; `canPlay`: it has something to play. */
  render(enabled: boolean, canPlay: boolean, labels: PlayerLabels): void {
    this.playButton.textContent = this.playing ? '❚❚' : '▶';
    this.playButton.title = this.playing ? labels.pause : labels.play;
    this.playButton.setAttribute('aria-label', this.playButton.title);
    this.playButton.disabled = !enabled || !canPlay;
    this.slider.disabled = !enabled;
    this.speedBox.title = labels.speed;
    for (const b of this.speedBox.querySelectorAll<HTMLButtonElement>('button')) {
      b.setAttribute('aria-pressed', String(Number(b.dataset.speed) === this.speed));
    }
    this.renderClock();
  }
}
