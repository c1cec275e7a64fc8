// A model's size before and after a change (pruning, or any two models being
// compared): the counts and the reduction factors, read the same way by every
// report that has them.

/** Parameters and MACs per sample before and after, and how many times fewer. */
export interface SizeChange {
  paramsBefore: number;
  paramsAfter: number;
  macsBefore: number;
  macsAfter: number;
  /** paramsBefore / paramsAfter (> 1: fewer parameters after). */
  paramsX: number;
  /** macsBefore / macsAfter (> 1: fewer MACs after). */
  macsX: number;
}

/** The change from `before` to `after` (e.g. summarize(graph).totals of each). */
export function sizeChange(before: { params: number; macs: number }, after: { params: number; macs: number }): SizeChange {
  return {
    paramsBefore: before.params,
    paramsAfter: after.params,
    macsBefore: before.macs,
    macsAfter: after.macs,
    paramsX: before.params / after.params,
    macsX: before.macs / after.macs,
  };
}
