// Option-value parsers shared by every command's declaration: commander calls
// them on the raw text and shows their InvalidArgumentError with the flag.
import { InvalidArgumentError } from 'commander';
import { ortChannelBlock } from '../measure/blocks.js';

/** A finite number (an integer with 'int'); empty text is not 0. */
export function number(kind: 'int' | 'float'): (v: string) => number {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new InvalidArgumentError(`expected ${kind === 'int' ? 'an integer' : 'a number'}, got '${v}'`);
    return n;
  };
}

/** Comma-separated words, blanks dropped. */
export const words = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

/** A channel multiple: an integer, or 'auto' for onnxruntime's block on this CPU (16 with AVX-512, 8 with AVX2, else 1). */
export function channelMultiple(v: string): number {
  return v.trim() === 'auto' ? ortChannelBlock() : number('int')(v);
}
