// ResNet-20/32/56/110 for CIFAR (He et al. 2016, section 4.2): a 3x3 conv
// to 16 maps, three stages of n basic blocks with 16, 32 and 64 maps (the
// first block of stages 2 and 3 halves the resolution with stride 2), global
// average pool, fc; depth = 6n + 2. Convs are 3x3 without bias, each
// followed by BN.
//
// Shortcuts: where the resolution and width change, the paper's CIFAR
// models use option A (parameter-free: subsample and zero-pad channels).
// We use option B instead — a projection, 1x1 conv with stride 2 + BN
// (downsample.0 / downsample.1, as torchvision names it) — because it is an
// ordinary conv the pruning passes already understand, and a zero-padding
// shortcut would need a node kind of its own. It adds 2 projections: for
// ResNet-56 2,752 parameters (0.3%) and 262,144 MACs (0.2%) over option A's
// 853,018 parameters and 125,485,696 MACs.
//
// Node names: conv1, bn1, relu, layer1.0.conv1, ..., layer2.0.downsample.0,
// avgpool, fc (the torchvision style, with layers 1-3).
import { GraphBuilder } from '../graph/index.js';
import { defineArch, scaled } from './registry.js';
import { basicBlock, convBn } from './resnet_imagenet.js';

const DEPTHS = [20, 32, 56, 110] as const;

for (const depth of DEPTHS) {
  const n = (depth - 2) / 6;
  const name = `resnet${depth}`;
  defineArch({
    name,
    description: `ResNet-${depth} for CIFAR (3 stages x ${n} basic blocks, 16/32/64 maps, projection shortcuts), 32x32 input`,
    defaults: { inChannels: 3, classes: 10, imageSize: 32, widthMultiplier: 1 },
    build(o) {
      const b = new GraphBuilder(name);
      let x = b.input([o.inChannels, o.imageSize, o.imageSize]);
      x = b.relu(convBn(b, x, scaled(16, o), 3, 1, 'conv1', 'bn1'), { name: 'relu' });
      [16, 32, 64].forEach((p, stage) => {
        for (let i = 0; i < n; i++) x = basicBlock(b, x, scaled(p, o), i === 0 && stage > 0 ? 2 : 1, `layer${stage + 1}.${i}`);
      });
      x = b.globalAvgPool(x, { name: 'avgpool' });
      x = b.linear(x, o.classes, { name: 'fc' });
      return b.build(x);
    },
  });
}
