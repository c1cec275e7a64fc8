// The layer families of per-family learning rates (lrByKind keys), apart
// from groups.ts so that the command-line option modules can name them
// without loading the engine.

/** Broad layer families, for lrByKind keys. */
export type ParamCategory = 'conv' | 'linear' | 'norm' | 'other';

/** Other names of two families in lrByKind keys. */
export const LR_ALIASES: Readonly<Record<'fc' | 'bn', ParamCategory>> = { fc: 'linear', bn: 'norm' };

/**
 * The family keys lrByKind takes, with the aliases (fc is linear, bn is
 * norm). Every model has these families; exact node kinds are keys too, but
 * the command-line flags keep to families.
 */
export const LR_FAMILIES = ['conv', 'linear', 'fc', 'norm', 'bn', 'other'] as const satisfies readonly (ParamCategory | keyof typeof LR_ALIASES)[];
