// The model zoo's registry: architectures by name, each a function from
// options to a graph. CLI commands and tests look architectures up here.
import { GraphError, type Graph } from '../graph/index.js';

export interface ArchOptions {
  /** Input channels (1 for MNIST-like data, 3 for RGB). */
  inChannels?: number;
  /** Number of classes of the classifier. */
  classes?: number;
  /** Input height and width. */
  imageSize?: number;
  /** Multiplies every layer's channel count (rounded, at least 1). */
  widthMultiplier?: number;
}

export interface ArchDef {
  name: string;
  description: string;
  /** Defaults for the options this architecture is usually trained with. */
  defaults: Required<ArchOptions>;
  build(o: Required<ArchOptions>): Graph;
}

const archs = new Map<string, ArchDef>();

export function defineArch(def: ArchDef): void {
  if (archs.has(def.name)) throw new Error(`architecture '${def.name}' defined twice`);
  archs.set(def.name, def);
}

export function archNames(): string[] {
  return [...archs.keys()];
}

export function archDef(name: string): ArchDef {
  const a = archs.get(name);
  if (!a) throw new GraphError(`unknown architecture '${name}' (available: ${archNames().join(', ')})`);
  return a;
}

/** Builds the graph of architecture `name` with the given options over its defaults. */
export function buildArch(name: string, o: ArchOptions = {}): Graph {
  const def = archDef(name);
  const opts = { ...def.defaults, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<ArchOptions>;
  return def.build(opts);
}

/** Channel count scaled by the width multiplier. */
export function scaled(channels: number, o: Required<ArchOptions>): number {
  return Math.max(1, Math.round(channels * o.widthMultiplier));
}
