// α schedules of progressive replacement: the sequence of α values the
// training steps through, from just below 1 down to 0 (or to where the run
// stops). Written as strings on the command line:
//   exp:R         α_k = (1 − R)^k (seed 001: R = 0.05), until α_k < floor, then 0
//   linear:N      α_k = 1 − k/N, k = 1..N
//   cosine:N      α_k = (1 + cos(πk/N)) / 2, k = 1..N
//   step:a,b,...  the listed values, strictly decreasing in [0, 1)
import { ReplaceError } from './errors.js';

export type Schedule =
  | { kind: 'exp'; rate: number; floor: number }
  | { kind: 'linear'; steps: number }
  | { kind: 'cosine'; steps: number }
  | { kind: 'step'; values: readonly number[] };

export const SCHEDULE_KINDS = ['exp', 'linear', 'cosine', 'step'] as const;

/** Below this an exponential schedule jumps to 0 (default; `exp:R:FLOOR` sets another). */
export const DEFAULT_EXP_FLOOR = 0.05;

const bad = (text: string, why: string): never => {
  throw new ReplaceError(`schedule '${text}': ${why} (forms: exp:0.05, exp:0.05:0.02, linear:10, cosine:10, step:0.75,0.5,0.25,0)`);
};

/** Parses a schedule string (see the file's head); errors name the string and the forms. */
export function parseSchedule(text: string): Schedule {
  const [kind, ...rest] = text.trim().split(':');
  const arg = rest.join(':');
  const num = (s: string | undefined, what: string): number => {
    const v = Number(s);
    if (s === undefined || s.trim() === '' || !Number.isFinite(v)) bad(text, `${what} must be a number, got '${s ?? ''}'`);
    return v;
  };
  switch (kind) {
    case 'exp': {
      const [r, f] = arg.split(':');
      const rate = num(r, 'the decay rate');
      if (!(rate > 0 && rate < 1)) bad(text, `the decay rate must be in (0, 1), got ${rate}`);
      const floor = f === undefined ? DEFAULT_EXP_FLOOR : num(f, 'the floor');
      if (!(floor > 0 && floor < 1)) bad(text, `the floor must be in (0, 1), got ${floor}`);
      return { kind: 'exp', rate, floor };
    }
    case 'linear':
    case 'cosine': {
      const steps = num(arg, 'the step count');
      if (!(Number.isInteger(steps) && steps >= 1 && steps <= 10_000)) bad(text, `the step count must be an integer in [1, 10000], got ${steps}`);
      return { kind, steps };
    }
    case 'step': {
      const values = arg.split(',').map((v) => num(v, 'every value'));
      if (!values.length) bad(text, 'give at least one value');
      values.forEach((v, i) => {
        if (!(v >= 0 && v < 1)) bad(text, `values must be in [0, 1), got ${v}`);
        if (i > 0 && !(v < values[i - 1]!)) bad(text, `values must decrease strictly, got ${values[i - 1]} then ${v}`);
      });
      return { kind: 'step', values };
    }
    default:
      return bad(text, `unknown schedule '${kind}' (known: ${SCHEDULE_KINDS.join(', ')})`);
  }
}

/** The α values a schedule steps through, in order (1, the start, not included). */
export function alphaSequence(s: Schedule): number[] {
  switch (s.kind) {
    case 'exp': {
      const out: number[] = [];
      for (let a = 1 - s.rate; a >= s.floor; a *= 1 - s.rate) out.push(a);
      return [...out, 0];
    }
    case 'linear':
      return Array.from({ length: s.steps }, (_, i) => (i + 1 === s.steps ? 0 : 1 - (i + 1) / s.steps));
    case 'cosine':
      return Array.from({ length: s.steps }, (_, i) => (i + 1 === s.steps ? 0 : (1 + Math.cos((Math.PI * (i + 1)) / s.steps)) / 2));
    case 'step':
      return [...s.values];
  }
}

/** The schedule as its string (what config.json and the report show). */
export function scheduleText(s: Schedule): string {
  switch (s.kind) {
    case 'exp':
      return s.floor === DEFAULT_EXP_FLOOR ? `exp:${s.rate}` : `exp:${s.rate}:${s.floor}`;
    case 'linear':
    case 'cosine':
      return `${s.kind}:${s.steps}`;
    case 'step':
      return `step:${s.values.join(',')}`;
  }
}
