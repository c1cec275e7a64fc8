// A small DenseNet-BC for CIFAR (Huang et al. 2017): 'densenet_cifar' is
// DenseNet-BC-40 with growth rate k = 12 — a 3x3 conv to 2k maps, three
// dense blocks of 6 bottleneck layers, transitions between them, then
// BN-ReLU, global average pool and fc. Depth 40 = 3 x 6 layers x 2 convs +
// the first conv + 2 transition convs + fc.
//
// Each dense layer is BN-ReLU-Conv1x1 (4k maps) then BN-ReLU-Conv3x3 (k maps,
// padding 1), and its k new maps are concatenated to its input along the
// channels (so a block of L layers turns c maps into c + L·k). A transition
// is BN-ReLU-Conv1x1 to floor(0.5·c) maps (compression 0.5) + avg-pool 2.
// Convs have no bias. Channels: 24 -> 96 | 48 -> 120 | 60 -> 132 -> fc.
// widthMultiplier scales the growth rate (the first conv has 2k maps).
//
// Node names follow torchvision's DenseNet: features.conv0,
// features.denseblock1.denselayer1.norm1 / relu1 / conv1 / norm2 / relu2 /
// conv2 (+ .cat, the concat), features.transition1.norm / relu / conv /
// pool, features.norm5, classifier.
import { GraphBuilder, type Ref } from '../graph/index.js';
import { defineArch, scaled } from './registry.js';

export interface DenseNetConfig {
  growthRate: number;
  /** Layers per dense block. */
  blocks: readonly number[];
  /** Bottleneck width as a multiple of the growth rate. */
  bnSize: number;
  /** Transition output = floor(compression x input maps). */
  compression: number;
}

export const DENSENET_CIFAR: DenseNetConfig = { growthRate: 12, blocks: [6, 6, 6], bnSize: 4, compression: 0.5 };

function denseLayer(b: GraphBuilder, x: Ref, k: number, bnSize: number, name: string): Ref {
  return b.scope(name, () => {
    let y = b.relu(b.batchnorm2d(x, { name: 'norm1' }), { name: 'relu1' });
    y = b.conv2d(y, bnSize * k, 1, { bias: false, name: 'conv1' });
    y = b.relu(b.batchnorm2d(y, { name: 'norm2' }), { name: 'relu2' });
    y = b.conv2d(y, k, 3, { padding: 1, bias: false, name: 'conv2' });
    return b.concat([x, y], { name: 'cat' });
  });
}

function transition(b: GraphBuilder, x: Ref, out: number, name: string): Ref {
  return b.scope(name, () => {
    let y = b.relu(b.batchnorm2d(x, { name: 'norm' }), { name: 'relu' });
    y = b.conv2d(y, out, 1, { bias: false, name: 'conv' });
    return b.avgpool2d(y, 2, { stride: 2, name: 'pool' });
  });
}

defineArch({
  name: 'densenet_cifar',
  description: 'DenseNet-BC-40 (k=12, 3 dense blocks x 6 bottleneck layers, compression 0.5) for 32x32 input',
  defaults: { inChannels: 3, classes: 10, imageSize: 32, widthMultiplier: 1 },
  build(o) {
    const c = DENSENET_CIFAR;
    const k = scaled(c.growthRate, o);
    const b = new GraphBuilder('densenet_cifar');
    let x = b.input([o.inChannels, o.imageSize, o.imageSize]);
    b.scope('features', () => {
      x = b.conv2d(x, 2 * k, 3, { padding: 1, bias: false, name: 'conv0' });
      c.blocks.forEach((layers, bi) => {
        b.scope(`denseblock${bi + 1}`, () => {
          for (let l = 0; l < layers; l++) x = denseLayer(b, x, k, c.bnSize, `denselayer${l + 1}`);
        });
        if (bi < c.blocks.length - 1) x = transition(b, x, Math.floor(x.shape[0]! * c.compression), `transition${bi + 1}`);
      });
      x = b.batchnorm2d(x, { name: 'norm5' });
    });
    x = b.relu(x, { name: 'relu' });
    x = b.globalAvgPool(x, { name: 'avgpool' });
    x = b.linear(x, o.classes, { name: 'classifier' });
    return b.build(x);
  },
});
