// The timed training step and the side-by-side report the engine benchmarks
// (engine, resnet20) share with their PyTorch scripts: the same four parts,
// named as the python side names them.
import { tidy, type Tensor } from '../../src/tensor/index.js';
import { fmt, median } from './stats.js';

export interface Parts {
  zero_grad: number;
  forward: number;
  backward: number;
  optimizer: number;
}

function emptyParts(): Parts {
  return { zero_grad: 0, forward: 0, backward: 0, optimizer: 0 };
}

export interface Stepper {
  zeroGrad(): void;
  step(): void;
}

/**
 * One training step; every temporary is released when it returns (the
 * gradients themselves are freed by the next zeroGrad()). Adds each part's
 * time to `parts` when given and returns the loss.
 */
export function timedTrainStep(optimizer: Stepper, loss: () => Tensor, parts?: Parts): number {
  return tidy(() => {
    const t0 = performance.now();
    optimizer.zeroGrad();
    const t1 = performance.now();
    const l = loss();
    const t2 = performance.now();
    l.backward();
    const t3 = performance.now();
    optimizer.step();
    const t4 = performance.now();
    if (parts) {
      parts.zero_grad += t1 - t0;
      parts.forward += t2 - t1;
      parts.backward += t3 - t2;
      parts.optimizer += t4 - t3;
    }
    return l.item();
  });
}

function scaleParts(p: Parts, by: number): Parts {
  return { zero_grad: p.zero_grad * by, forward: p.forward * by, backward: p.backward * by, optimizer: p.optimizer * by };
}

/** One round of timed steps on slimnet's side, per step where it says so. */
export interface RoundTimes {
  img_s: number;
  /** Process CPU time (all threads), user and system, ms per step. */
  cpu_ms: number;
  user_ms: number;
  sys_ms: number;
  minor_faults: number;
  /** ms per step. */
  parts: Parts;
  /** The last step's loss. */
  loss: number;
}

/** Runs `steps` timed calls of `step` (each adding its parts and returning its loss) on batches of `batch`. */
export function timeRound(steps: number, batch: number, step: (parts: Parts) => number): RoundTimes {
  const parts = emptyParts();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const f0 = process.resourceUsage().minorPageFault;
  let loss = NaN;
  for (let i = 0; i < steps; i++) loss = step(parts);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return {
    img_s: (steps * batch) / (ms / 1000),
    cpu_ms: (cpu.user + cpu.system) / 1000 / steps,
    user_ms: cpu.user / 1000 / steps,
    sys_ms: cpu.system / 1000 / steps,
    minor_faults: (process.resourceUsage().minorPageFault - f0) / steps,
    parts: scaleParts(parts, 1 / steps),
    loss,
  };
}

/** `round  slimnet img/s  pytorch img/s  ratio` lines. */
export const roundHeader = '\nround   slimnet img/s   pytorch img/s   ratio';
export function roundLine(r: number, slim: number, py: number): string {
  return `${String(r + 1).padStart(5)}   ${fmt(slim).padStart(13)}   ${fmt(py).padStart(13)}   ${fmt(slim / py, 3)}`;
}

/** The median line (and the best line when asked) of per-round images/s. */
export function summaryLines(slim: number[], py: number[], torchVersion: string, withBest = false): string[] {
  const s = median(slim);
  const p = median(py);
  const out = [`median  ${fmt(s).padStart(13)}   ${fmt(p).padStart(13)}   ${fmt(s / p, 3)}   (pytorch ${torchVersion})`];
  if (withBest) out.push(`best    ${fmt(Math.max(...slim)).padStart(13)}   ${fmt(Math.max(...py)).padStart(13)}   ${fmt(Math.max(...slim) / Math.max(...py), 3)}`);
  return out;
}

/** A row of per-round values on both sides, printed as medians. */
export type SideRow = [label: string, slim: number[], py: number[], digits?: number];

/** The per-part table: each part's median over rounds, the whole step, then any extra rows. */
export function partsLines(labels: Record<keyof Parts, string>, slimParts: Parts[], pyParts: Parts[], batch: number, slimImgS: number[], pyImgS: number[], extra: SideRow[] = []): string[] {
  const cell = (xs: number[], digits = 2) => fmt(median(xs), digits).padStart(10);
  const out = ['\nper-step time by part, ms (median over rounds)   slimnet    pytorch'];
  for (const k of Object.keys(labels) as (keyof Parts)[]) out.push(`  ${labels[k].padEnd(46)} ${cell(slimParts.map((x) => x[k]))} ${cell(pyParts.map((x) => x[k]))}`);
  out.push(`  ${'whole step (from median images/s)'.padEnd(46)} ${fmt((1000 * batch) / median(slimImgS), 2).padStart(10)} ${fmt((1000 * batch) / median(pyImgS), 2).padStart(10)}`);
  for (const [label, s, p, digits] of extra) out.push(`  ${label.padEnd(46)} ${cell(s, digits)} ${cell(p, digits)}`);
  return out;
}
