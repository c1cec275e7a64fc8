// What one channel costs: the multiply-accumulates per sample that removing
// one channel of a group saves, over every node the group reaches (the
// producing conv or linear layer, its BatchNorm, and the input side of every
// consumer, flatten → linear included). The global ranking can weigh scores
// by it (Molchanov et al. 2017, FLOPs regularisation): two channels equally
// unimportant are not equally worth removing when one sits in a layer that
// does 100 times more work.
import { hasTrait, summarize } from '../graph/index.js';
import type { DependencyGraph } from './dependency.js';

/** MACs per sample saved by removing one channel, per group name. */
export function channelCosts(dep: DependencyGraph): Map<string, number> {
  const graph = dep.graph;
  const rows = new Map(summarize(graph).rows.map((r) => [r.name, r]));
  const size = new Map(graph.nodes.map((n) => [n.name, dep.kept(n.name, new Set()).length]));
  const costs = new Map<string, number>();
  for (const g of dep.groups) {
    const one = new Set([g.channels[0]!]);
    let saved = 0;
    for (const n of graph.nodes) {
      const macs = rows.get(n.name)?.macs ?? 0;
      if (macs === 0) continue;
      const keptOf = (name: string): [number, number] => [dep.kept(name, one).length, size.get(name)!];
      const [ko, o] = keptOf(n.name);
      // Convolutions and linear layers scale with both channel counts; a
      // grouped (depthwise) convolution and everything else with its output.
      const crossed = (hasTrait(n, 'conv') && Number(n.attrs.groups ?? 1) === 1) || hasTrait(n, 'linear');
      const [ki, i] = crossed && n.inputs.length === 1 ? keptOf(n.inputs[0]!) : [1, 1];
      // One division of integers: exact whenever the saving is a whole number of MACs.
      saved += macs - (macs * ko * ki) / (o * i);
    }
    costs.set(g.name, saved);
  }
  return costs;
}
