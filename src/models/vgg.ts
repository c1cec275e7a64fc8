// VGG-11/13/16/19, plain and with batch normalisation, from the cfg-list form
// of the network-slimming code (Liu et al. 2017, github.com/Eric-mingjie/
// network-slimming, models/vgg.py): numbers are 3x3 conv widths (padding 1),
// 'M' a 2x2 max-pool. A channel-pruned network is described by the same kind
// of list with smaller numbers, so `vggFromCfg(prunedCfg)` rebuilds it.
//
// Two layouts, chosen by imageSize (or forced with `head`):
//
// - CIFAR (imageSize <= 64, the default 32x32): exactly the slimming model.
//   Its cfg lists have four 'M' and no trailing one, so a 32x32 input leaves
//   the features at 2x2; slimming's forward() then applies nn.AvgPool2d(2)
//   (2x2 -> 1x1), flattens, and ends in one nn.Linear(cfg[-1], classes). We
//   use a global average pool instead of AvgPool2d(2): identical at 32x32
//   (and at 40x40, which slimming's own smoke test feeds: 2x2 maps again),
//   and it also works for other sizes where AvgPool2d(2) would leave more
//   than one position for a linear layer sized cfg[-1]. Slimming's convs
//   have no bias (BN follows); the plain variants, with no BN to absorb a
//   shift, keep the conv bias. Node names follow slimming's state_dict:
//   feature.<i> (its nn.Sequential indices: conv, [bn], relu, or a pool),
//   classifier.
//
// - ImageNet (imageSize > 64, the torchvision layout at 224): the cfg plus a
//   fifth trailing 'M', convs with bias, then adaptive avg-pool to 7x7,
//   flatten, fc 4096, relu, dropout, fc 4096, relu, dropout, fc classes.
//   Names follow torchvision: features.<i>, avgpool, classifier.<i>. The two
//   hidden widths 4096 are scaled by widthMultiplier too.
import { GraphBuilder, type Graph, type Ref } from '../graph/index.js';
import { defineArch, scaled, type ArchOptions } from './registry.js';

export type VggCfg = readonly (number | 'M')[];

/** The network-slimming cfg lists (CIFAR layout: no trailing 'M'). */
export const VGG_CFGS: Readonly<Record<11 | 13 | 16 | 19, VggCfg>> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
};

export type VggHead = 'cifar' | 'imagenet';

export interface VggOptions extends ArchOptions {
  /** Conv, BatchNorm, ReLU instead of conv, ReLU. Default true (as slimming builds it). */
  batchNorm?: boolean;
  /** Layout; by default 'cifar' when imageSize <= 64, else 'imagenet'. */
  head?: VggHead;
  /** Graph name (default 'vgg'). */
  name?: string;
}

const CIFAR_DEFAULTS: Required<ArchOptions> = { inChannels: 3, classes: 10, imageSize: 32, widthMultiplier: 1 };

export function vggHeadFor(imageSize: number): VggHead {
  return imageSize <= 64 ? 'cifar' : 'imagenet';
}

/**
 * Builds a VGG from a cfg list, used exactly as given (the ImageNet layout
 * does not append a pool: pass [...cfg, 'M'] for torchvision's features).
 * Conv widths are multiplied by widthMultiplier (default 1, so a pruned cfg
 * is rebuilt as is).
 */
export function vggFromCfg(cfg: VggCfg, opts: VggOptions = {}): Graph {
  const o: Required<ArchOptions> = { ...CIFAR_DEFAULTS, ...defined(opts) };
  const bn = opts.batchNorm ?? true;
  const head = opts.head ?? vggHeadFor(o.imageSize);
  const b = new GraphBuilder(opts.name ?? 'vgg');
  const prefix = head === 'cifar' ? 'feature' : 'features';
  let x: Ref = b.input([o.inChannels, o.imageSize, o.imageSize]);
  let i = 0;
  const at = () => `${prefix}.${i++}`;
  for (const v of cfg) {
    if (v === 'M') {
      x = b.maxpool2d(x, 2, { stride: 2, name: at() });
      continue;
    }
    if (!Number.isInteger(v) || v < 1) throw new Error(`vgg cfg: channel counts must be positive integers, got ${JSON.stringify(v)}`);
    const bias = head === 'imagenet' || !bn;
    x = b.conv2d(x, scaled(v, o), 3, { padding: 1, bias, name: at() });
    if (bn) x = b.batchnorm2d(x, { name: at() });
    x = b.relu(x, { name: at() });
  }
  if (head === 'cifar') {
    x = b.globalAvgPool(x, { name: 'avgpool' });
    x = b.linear(x, o.classes, { name: 'classifier' });
  } else {
    x = b.adaptiveAvgPool(x, 7, { name: 'avgpool' });
    x = b.flatten(x, { name: 'flatten' });
    const hidden = scaled(4096, o);
    x = b.linear(x, hidden, { name: 'classifier.0' });
    x = b.relu(x, { name: 'classifier.1' });
    x = b.dropout(x, 0.5, { name: 'classifier.2' });
    x = b.linear(x, hidden, { name: 'classifier.3' });
    x = b.relu(x, { name: 'classifier.4' });
    x = b.dropout(x, 0.5, { name: 'classifier.5' });
    x = b.linear(x, o.classes, { name: 'classifier.6' });
  }
  return b.build(x);
}

function defined(o: ArchOptions): Partial<Required<ArchOptions>> {
  const out: Partial<Required<ArchOptions>> = {};
  if (o.inChannels !== undefined) out.inChannels = o.inChannels;
  if (o.classes !== undefined) out.classes = o.classes;
  if (o.imageSize !== undefined) out.imageSize = o.imageSize;
  if (o.widthMultiplier !== undefined) out.widthMultiplier = o.widthMultiplier;
  return out;
}

for (const depth of [11, 13, 16, 19] as const) {
  for (const bn of [false, true]) {
    const name = `vgg${depth}${bn ? '_bn' : ''}`;
    defineArch({
      name,
      description: `VGG-${depth}${bn ? ' with BatchNorm' : ''} (network-slimming cfg; CIFAR head: global avg-pool + 1 fc at imageSize <= 64, torchvision head above)`,
      defaults: { ...CIFAR_DEFAULTS },
      build(o) {
        const head = vggHeadFor(o.imageSize);
        const cfg = head === 'cifar' ? VGG_CFGS[depth] : [...VGG_CFGS[depth], 'M' as const];
        return vggFromCfg(cfg, { ...o, batchNorm: bn, head, name });
      },
    });
  }
}
