// A builder whose calls read like the architecture they build:
//
//   const b = new GraphBuilder('lenet5');
//   let x = b.input([1, 28, 28]);
//   x = b.maxpool2d(b.relu(b.conv2d(x, 32, 5, { padding: 'same' })), 2);
//
// Shapes are inferred as nodes are added, so layers take their input size
// from the tensor they are applied to, and mistakes surface at the call that
// made them.
import './kinds/index.js';
import { GraphError, type AttrValue, type GraphNode, type Shape } from './ir.js';
import { kindOf } from './registry.js';
import { Graph } from './graph.js';

/** A node output inside a builder. */
export interface Ref {
  readonly name: string;
  readonly shape: Shape;
}

type Pair = number | [number, number];
interface Named {
  name?: string;
}

const PREFIX: Record<string, string> = {
  conv2d: 'conv',
  conv_transpose2d: 'deconv',
  batchnorm2d: 'bn',
  batchnorm1d: 'bn',
  channel_scale: 'scale',
  linear: 'fc',
  maxpool2d: 'maxpool',
  avgpool2d: 'avgpool',
  global_avgpool: 'gap',
  adaptive_avgpool: 'pool',
};

export class GraphBuilder {
  private readonly nodes: GraphNode[] = [];
  private readonly shapes = new Map<string, Shape>();
  private readonly counters = new Map<string, number>();
  private readonly scopes: string[] = [];

  constructor(readonly name: string) {}

  /** Adds a node of any registered kind. */
  node(kind: string, inputs: readonly Ref[], attrs: Record<string, AttrValue> = {}, name?: string): Ref {
    const full = this.qualify(name ?? this.autoName(kind));
    if (this.shapes.has(full)) throw new GraphError(`duplicate node name`, full);
    const node: GraphNode = { name: full, kind, inputs: inputs.map((r) => r.name), attrs };
    const def = kindOf(node);
    def.validate(node);
    const shape = def.inferShape(node, inputs.map((r) => r.shape));
    this.nodes.push(node);
    this.shapes.set(full, shape);
    return { name: full, shape };
  }

  /** Names nodes created inside `fn` as `prefix.<name>` (like torchvision's module paths). */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  build(...outputs: Ref[]): Graph {
    return new Graph({ name: this.name, nodes: [...this.nodes], outputs: outputs.map((o) => o.name) });
  }

  // ---- layers -------------------------------------------------------------------

  input(shape: readonly number[], o: Named = {}): Ref {
    return this.node('input', [], { shape: [...shape] }, o.name ?? 'input');
  }

  conv2d(
    x: Ref,
    outChannels: number,
    kernel: Pair,
    o: Named & { stride?: Pair; padding?: Pair | 'same'; dilation?: Pair; groups?: number; bias?: boolean } = {},
  ): Ref {
    return this.node(
      'conv2d',
      [x],
      { inChannels: x.shape[0]!, outChannels, kernel, stride: o.stride ?? 1, padding: o.padding ?? 0, dilation: o.dilation ?? 1, groups: o.groups ?? 1, bias: o.bias ?? true },
      o.name,
    );
  }

  convTranspose2d(x: Ref, outChannels: number, kernel: Pair, o: Named & { stride?: Pair; padding?: Pair; outputPadding?: Pair; dilation?: Pair; groups?: number; bias?: boolean } = {}): Ref {
    return this.node(
      'conv_transpose2d',
      [x],
      {
        inChannels: x.shape[0]!,
        outChannels,
        kernel,
        stride: o.stride ?? 1,
        padding: o.padding ?? 0,
        outputPadding: o.outputPadding ?? 0,
        dilation: o.dilation ?? 1,
        groups: o.groups ?? 1,
        bias: o.bias ?? true,
      },
      o.name,
    );
  }

  batchnorm2d(x: Ref, o: Named & { eps?: number; momentum?: number } = {}): Ref {
    return this.node('batchnorm2d', [x], { features: x.shape[0]!, eps: o.eps ?? 1e-5, momentum: o.momentum ?? 0.1 }, o.name);
  }

  batchnorm1d(x: Ref, o: Named & { eps?: number; momentum?: number } = {}): Ref {
    return this.node('batchnorm1d', [x], { features: x.shape[0]!, eps: o.eps ?? 1e-5, momentum: o.momentum ?? 0.1 }, o.name);
  }

  /** A learned per-channel multiplier (starts at 1): y[:, c] = α_c · x[:, c]. */
  channelScale(x: Ref, o: Named = {}): Ref {
    return this.node('channel_scale', [x], { features: x.shape[0]! }, o.name);
  }

  linear(x: Ref, outFeatures: number, o: Named & { bias?: boolean } = {}): Ref {
    return this.node('linear', [x], { inFeatures: x.shape[0]!, outFeatures, bias: o.bias ?? true }, o.name);
  }

  relu(x: Ref, o: Named = {}): Ref {
    return this.node('relu', [x], {}, o.name);
  }
  relu6(x: Ref, o: Named = {}): Ref {
    return this.node('relu6', [x], {}, o.name);
  }
  leakyRelu(x: Ref, slope = 0.01, o: Named = {}): Ref {
    return this.node('leaky_relu', [x], { slope }, o.name);
  }
  elu(x: Ref, alpha = 1, o: Named = {}): Ref {
    return this.node('elu', [x], { alpha }, o.name);
  }
  sigmoid(x: Ref, o: Named = {}): Ref {
    return this.node('sigmoid', [x], {}, o.name);
  }
  tanh(x: Ref, o: Named = {}): Ref {
    return this.node('tanh', [x], {}, o.name);
  }
  hardswish(x: Ref, o: Named = {}): Ref {
    return this.node('hardswish', [x], {}, o.name);
  }
  softmax(x: Ref, o: Named & { axis?: number } = {}): Ref {
    return this.node('softmax', [x], { axis: o.axis ?? 1 }, o.name);
  }

  maxpool2d(x: Ref, kernel: Pair, o: Named & { stride?: Pair; padding?: Pair; ceilMode?: boolean } = {}): Ref {
    return this.node('maxpool2d', [x], { kernel, stride: o.stride ?? kernel, padding: o.padding ?? 0, ceilMode: o.ceilMode ?? false }, o.name);
  }
  avgpool2d(x: Ref, kernel: Pair, o: Named & { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}): Ref {
    return this.node(
      'avgpool2d',
      [x],
      { kernel, stride: o.stride ?? kernel, padding: o.padding ?? 0, ceilMode: o.ceilMode ?? false, countIncludePad: o.countIncludePad ?? true },
      o.name,
    );
  }
  globalAvgPool(x: Ref, o: Named = {}): Ref {
    return this.node('global_avgpool', [x], {}, o.name);
  }
  adaptiveAvgPool(x: Ref, output: Pair, o: Named = {}): Ref {
    return this.node('adaptive_avgpool', [x], { output }, o.name);
  }

  flatten(x: Ref, o: Named = {}): Ref {
    return this.node('flatten', [x], {}, o.name);
  }
  reshape(x: Ref, shape: number[], o: Named = {}): Ref {
    return this.node('reshape', [x], { shape }, o.name);
  }
  identity(x: Ref, o: Named = {}): Ref {
    return this.node('identity', [x], {}, o.name);
  }
  dropout(x: Ref, p = 0.5, o: Named = {}): Ref {
    return this.node('dropout', [x], { p }, o.name);
  }

  /** Elementwise sum (residual connections). */
  add(inputs: Ref[], o: Named = {}): Ref {
    return this.node('add', inputs, {}, o.name);
  }
  mul(a: Ref, b: Ref, o: Named = {}): Ref {
    return this.node('mul', [a, b], {}, o.name);
  }
  concat(inputs: Ref[], o: Named & { axis?: number } = {}): Ref {
    return this.node('concat', inputs, { axis: o.axis ?? 1 }, o.name);
  }

  // ---- naming -------------------------------------------------------------------

  private qualify(name: string): string {
    return [...this.scopes, name].join('.');
  }

  private autoName(kind: string): string {
    const prefix = PREFIX[kind] ?? kind;
    const key = [...this.scopes, prefix].join('.');
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    return `${prefix}${n}`;
  }
}
