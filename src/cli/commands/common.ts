// Pieces shared by train / eval / runs: the normalisation and augmentation a
// data set gets, metric formatting and dates.
import type { RunLog } from '../../runs/index.js';
import { compose, horizontalFlip, normalize, randomCrop, NORMALIZE_PRESETS, type Transform, type Dataset } from '../../data/index.js';

export interface NormalizeSpec {
  mean: number[];
  std: number[];
}

/** Per-channel mean / std a data set is normalised with (presets; 0.5 / 0.5 for unknown grey images). */
export function normalizationFor(dataset: string, channels: number): NormalizeSpec {
  const preset =
    dataset === 'mnist' || dataset === 'mnist-digits'
      ? NORMALIZE_PRESETS.mnist
      : dataset === 'fashion-mnist'
        ? NORMALIZE_PRESETS['fashion-mnist']
        : dataset === 'cifar10'
          ? NORMALIZE_PRESETS.cifar10
          : dataset === 'cifar100'
            ? NORMALIZE_PRESETS.cifar100
            : channels === 3
              ? NORMALIZE_PRESETS.imagenet
              : { mean: [0.5], std: [0.5] };
  return { mean: [...preset.mean], std: [...preset.std] };
}

/** The training transform: optional standard augmentation, then normalisation. */
export function trainTransform(dataset: string, ds: Dataset, augment: 'none' | 'standard', norm: NormalizeSpec): Transform {
  const [, h, w] = ds.sampleShape;
  const parts: Transform[] = [];
  if (augment === 'standard') {
    parts.push(randomCrop([h, w], Math.max(h, w) <= 28 ? 2 : 4));
    // Flipped digits are other digits (or none); everything else flips.
    if (dataset !== 'mnist' && dataset !== 'mnist-digits') parts.push(horizontalFlip());
  }
  parts.push(normalize(norm.mean, norm.std));
  return parts.length === 1 ? parts[0]! : compose(...parts);
}

export function evalTransform(norm: NormalizeSpec): Transform {
  return normalize(norm.mean, norm.std);
}

/** 0.91234 -> 91.23 (a number, so tables right-align it); NaN / null -> ''. */
export function pct(x: number | null | undefined, digits = 2): number | string {
  return x === null || x === undefined || Number.isNaN(x) ? '' : +(x * 100).toFixed(digits);
}

export function fmt(x: number | null | undefined, digits = 4): number | string {
  return x === null || x === undefined || Number.isNaN(x) ? '' : +x.toFixed(digits);
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** '2025-01-02T03:04:05.678Z' -> '2025-01-02 03:04' */
export function shortDate(iso: string | undefined): string {
  return iso ? iso.slice(0, 16).replace('T', ' ') : '';
}

export interface Output {
  /** A line for the user (stdout, or stderr with --json) and run.log. */
  say(text: string): void;
  log: RunLog | undefined;
}

export function makeOutput(json: boolean): Output {
  const o: Output = {
    log: undefined,
    say(text: string) {
      (json ? process.stderr : process.stdout).write(text.endsWith('\n') ? text : `${text}\n`);
      o.log?.write(text);
    },
  };
  return o;
}
