// MobileNetV2 (Sandler et al. 2018) in torchvision's layout: a 3x3 conv to
// 32 maps, 17 inverted residual blocks, a 1x1 conv to 1280 maps, global
// average pool, dropout 0.2, fc. A block expands with a 1x1 conv (t x input
// maps; skipped when t = 1), filters with a depthwise 3x3 (a conv2d with
// groups = channels) carrying the block's stride, then projects with a
// linear 1x1 (BN, no activation: the linear bottleneck); every other conv is
// followed by BN + ReLU6. The input is added back when stride is 1 and the
// widths agree. Widths are scaled by widthMultiplier and rounded to a
// multiple of 8 like torchvision's _make_divisible; the last conv keeps 1280
// maps unless the multiplier is above 1.
//
// Strides depend on imageSize. At imageSize > 64 they are the standard ones
// (first conv stride 2, stages 2-4 and 6 stride 2: a 224x224 input ends at
// 7x7). At imageSize <= 64 (the default, CIFAR 32x32) the first conv and the
// first stride-2 stage (t=6, c=24) use stride 1, as in the widely used CIFAR
// adaptation (kuangliu/pytorch-cifar): total downsampling is 8 instead of
// 32, so 32x32 ends at 4x4 rather than 1x1. Nothing else changes, so the
// parameter count is the same for both.
//
// Node names follow torchvision's state_dict: features.0.0 (conv) /
// features.0.1 (BN), features.<i>.conv.<j>.0 / .1 inside blocks with the
// projection at conv.<j> / conv.<j+1>, features.18.0 / .1, classifier.1.
import { GraphBuilder, type Ref } from '../graph/index.js';
import { defineArch } from './registry.js';

/** torchvision's _make_divisible: round to the nearest multiple of `divisor`, never below 90% of v. */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let out = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

/** [expansion t, output channels c, repeats n, stride s] of the seven stages (paper Table 2). */
export const MOBILENETV2_SETTINGS: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** conv (no bias) + BN (+ ReLU6), torchvision's Conv2dNormActivation, named `${at}.0/.1/.2`. */
function convBnAct(b: GraphBuilder, x: Ref, out: number, kernel: number, stride: number, at: string, o: { groups?: number; act?: boolean } = {}): Ref {
  let y = b.conv2d(x, out, kernel, { stride, padding: (kernel - 1) / 2, groups: o.groups ?? 1, bias: false, name: `${at}.0` });
  y = b.batchnorm2d(y, { name: `${at}.1` });
  return o.act === false ? y : b.relu6(y, { name: `${at}.2` });
}

function invertedResidual(b: GraphBuilder, x: Ref, out: number, stride: number, t: number, name: string): Ref {
  return b.scope(name, () => {
    const inp = x.shape[0]!;
    const hidden = Math.round(inp * t);
    let y = x;
    let j = 0;
    if (t !== 1) y = convBnAct(b, y, hidden, 1, 1, `conv.${j++}`);
    y = convBnAct(b, y, hidden, 3, stride, `conv.${j++}`, { groups: hidden });
    y = b.conv2d(y, out, 1, { bias: false, name: `conv.${j++}` });
    y = b.batchnorm2d(y, { name: `conv.${j++}` });
    return stride === 1 && inp === out ? b.add([x, y], { name: 'add' }) : y;
  });
}

defineArch({
  name: 'mobilenetv2',
  description: 'MobileNetV2 (torchvision layout, width rounded to multiples of 8); CIFAR strides at imageSize <= 64, standard strides above',
  defaults: { inChannels: 3, classes: 10, imageSize: 32, widthMultiplier: 1 },
  build(o) {
    const cifar = o.imageSize <= 64;
    const w = o.widthMultiplier;
    const b = new GraphBuilder('mobilenetv2');
    let x = b.input([o.inChannels, o.imageSize, o.imageSize]);
    x = convBnAct(b, x, makeDivisible(32 * w), 3, cifar ? 1 : 2, 'features.0');
    let idx = 1;
    MOBILENETV2_SETTINGS.forEach(([t, c, n, s], stage) => {
      const out = makeDivisible(c * w);
      const stageStride = cifar && stage === 1 ? 1 : s;
      for (let i = 0; i < n; i++) x = invertedResidual(b, x, out, i === 0 ? stageStride : 1, t, `features.${idx++}`);
    });
    x = convBnAct(b, x, makeDivisible(1280 * Math.max(1, w)), 1, 1, `features.${idx}`);
    x = b.globalAvgPool(x, { name: 'avgpool' });
    x = b.dropout(x, 0.2, { name: 'classifier.0' });
    x = b.linear(x, o.classes, { name: 'classifier.1' });
    return b.build(x);
  },
});
