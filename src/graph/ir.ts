// The graph IR: a model's structure as plain, JSON-serialisable data. Weights
// live beside it (model.ts), keyed `${node}.${param}`. Every pass — shape
// inference, execution, counting, export, pruning — reads this one form.

import { SlimnetError } from '../util/errors.js';
/** Attribute values: numbers, strings, booleans and arrays of numbers. */
export type AttrValue = number | string | boolean | readonly number[] | null;
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface GraphNode {
  /** Unique within the graph; names weights (`conv1.weight`) and hook targets. */
  readonly name: string;
  readonly kind: string;
  /** Names of the nodes whose outputs feed this node, in order. */
  readonly inputs: readonly string[];
  readonly attrs: Attrs;
}

export interface GraphJSON {
  format: 'slimnet.graph';
  version: 1;
  name: string;
  nodes: GraphNode[];
  outputs: string[];
}

/** A per-sample shape: the batch dimension is implicit and never stored. */
export type Shape = readonly number[];

export class GraphError extends SlimnetError {
  constructor(
    message: string,
    readonly node?: string,
  ) {
    super(node ? `node '${node}': ${message}` : message);
    this.name = 'GraphError';
  }
}
