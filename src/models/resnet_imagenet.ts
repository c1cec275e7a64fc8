// ResNet-18/34/50 for ImageNet, as torchvision builds them (He et al. 2016;
// ResNet-50 in the "v1.5" form: the stride of a downsampling bottleneck sits
// on its 3x3 conv, not on the first 1x1). Stem: conv 7x7 stride 2 + BN + ReLU
// + max-pool 3 stride 2 padding 1; four stages of 64/128/256/512 planes
// (stride 1, 2, 2, 2); global average pool; fc. Convs have no bias. A block
// whose stride or width changes gets a projection shortcut
// (downsample.0 = 1x1 conv with the stride, downsample.1 = BN).
// Node names are torchvision's state_dict paths: conv1, bn1, layer1.0.conv1,
// layer1.0.bn1, ..., layer2.0.downsample.0, ..., fc.
import { GraphBuilder, type Ref } from '../graph/index.js';
import { defineArch, scaled } from './registry.js';

/** conv (no bias) + BN named `${conv}` / `${bn}` in the current scope. */
export function convBn(b: GraphBuilder, x: Ref, out: number, kernel: number, stride: number, conv: string, bn: string): Ref {
  return b.batchnorm2d(b.conv2d(x, out, kernel, { stride, padding: (kernel - 1) / 2, bias: false, name: conv }), { name: bn });
}

/** Projection shortcut when the block changes resolution or width, identity otherwise. */
function shortcut(b: GraphBuilder, x: Ref, out: number, stride: number): Ref {
  return stride !== 1 || x.shape[0] !== out ? convBn(b, x, out, 1, stride, 'downsample.0', 'downsample.1') : x;
}

/**
 * Basic block (two 3x3 convs), built inside scope `name`:
 * conv1 bn1 relu1 conv2 bn2 (+ downsample.0/.1) add relu2.
 */
export function basicBlock(b: GraphBuilder, x: Ref, planes: number, stride: number, name: string): Ref {
  return b.scope(name, () => {
    let y = b.relu(convBn(b, x, planes, 3, stride, 'conv1', 'bn1'), { name: 'relu1' });
    y = convBn(b, y, planes, 3, 1, 'conv2', 'bn2');
    const s = shortcut(b, x, planes, stride);
    return b.relu(b.add([y, s], { name: 'add' }), { name: 'relu2' });
  });
}

/**
 * Bottleneck block (1x1 reduce, 3x3 with the stride, 1x1 expand to
 * 4 x planes), built inside scope `name`.
 */
export function bottleneck(b: GraphBuilder, x: Ref, planes: number, stride: number, name: string, expansion = 4): Ref {
  return b.scope(name, () => {
    let y = b.relu(convBn(b, x, planes, 1, 1, 'conv1', 'bn1'), { name: 'relu1' });
    y = b.relu(convBn(b, y, planes, 3, stride, 'conv2', 'bn2'), { name: 'relu2' });
    y = convBn(b, y, planes * expansion, 1, 1, 'conv3', 'bn3');
    const s = shortcut(b, x, planes * expansion, stride);
    return b.relu(b.add([y, s], { name: 'add' }), { name: 'relu3' });
  });
}

const VARIANTS = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
} as const;

for (const [name, v] of Object.entries(VARIANTS)) {
  defineArch({
    name,
    description: `ResNet-${name.slice(6)} (torchvision layout${v.block === 'bottleneck' ? ', v1.5 bottlenecks' : ''}), ImageNet stem, 224x224 input`,
    defaults: { inChannels: 3, classes: 1000, imageSize: 224, widthMultiplier: 1 },
    build(o) {
      const b = new GraphBuilder(name);
      let x = b.input([o.inChannels, o.imageSize, o.imageSize]);
      x = b.relu(convBn(b, x, scaled(64, o), 7, 2, 'conv1', 'bn1'), { name: 'relu' });
      x = b.maxpool2d(x, 3, { stride: 2, padding: 1, name: 'maxpool' });
      [64, 128, 256, 512].forEach((p, stage) => {
        const planes = scaled(p, o);
        for (let i = 0; i < v.layers[stage]!; i++) {
          const stride = i === 0 && stage > 0 ? 2 : 1;
          const at = `layer${stage + 1}.${i}`;
          x = v.block === 'basic' ? basicBlock(b, x, planes, stride, at) : bottleneck(b, x, planes, stride, at);
        }
      });
      x = b.globalAvgPool(x, { name: 'avgpool' });
      x = b.linear(x, o.classes, { name: 'fc' });
      return b.build(x);
    },
  });
}
