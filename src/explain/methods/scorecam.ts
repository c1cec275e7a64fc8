// Score-CAM (Wang et al., CVPR Workshops 2020): gradient-free. Each channel
// of the target layer, upsampled to the input (bilinear, corners aligned as
// pytorch-grad-cam's UpsamplingBilinear2d) and min-max normalised to [0, 1],
// masks the image; the target logit of each masked image is the channel's
// score, and the weights are the softmax of the scores over the channels
// (pytorch-grad-cam's ScoreCAM). ReLU of the weighted sum of the channels,
// at the layer's resolution.
//
// Cost: one forward per channel and image, `batchSize` masked images per
// forward (packed across images). `channels` caps the channels used — each
// image's most activated ones (mean over the map), the softmax over those
// only — for wide layers where one forward per channel is too slow.
import { F, noGrad, tensor, tidy, type Tensor } from '../../tensor/index.js';
import { defineExplainer } from '../registry.js';
import { targetLogits } from '../targets.js';
import { captureLayer, finishCam, weightedSum } from './cam-common.js';

/** pytorch-grad-cam's epsilon in the min-max normalisation (a constant channel becomes an all-zero mask). */
const EPS = 1e-8;

defineExplainer({
  name: 'scorecam',
  title: 'Score-CAM',
  source: 'Wang et al., Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks, CVPR Workshops 2020',
  family: 'cam',
  usesLayer: true,
  needsBackground: false,
  params: {
    batchSize: { default: 16, min: 1, integer: true, desc: 'masked images per forward pass' },
    channels: { default: 0, min: 0, integer: true, desc: "channels used per image, its most activated first (0: all)" },
  },
  explain(input, params) {
    const batchSize = params.batchSize ?? 16;
    const cap = params.channels ?? 0;
    const { model, x, targets } = input;
    const pre = tidy(() => {
      const { acts } = captureLayer(input, { grads: false });
      const [b, c] = acts.shape as [number, number, number, number];
      const k = cap > 0 ? Math.min(cap, c) : c;
      const sel = k < c ? topChannels(acts, k) : acts;
      const [h, w] = [x.size(2), x.size(3)];
      const masks = noGrad(() => {
        const up = F.interpolate(sel, { size: [h, w], mode: 'bilinear', alignCorners: true });
        const mx = up.amax([2, 3], true);
        const mn = up.amin([2, 3], true);
        return up.sub(mn).div(mx.sub(mn).add(EPS)).reshape(b * k, 1, h, w);
      });
      const owner = Array.from({ length: b * k }, (_, i) => Math.floor(i / k));
      const scores = new Float32Array(b * k);
      for (let s = 0; s < b * k; s += batchSize) {
        input.signal?.throwIfAborted();
        const n = Math.min(batchSize, b * k - s);
        const idx = owner.slice(s, s + n);
        const chunk = tidy(() =>
          noGrad(() => {
            const masked = x.indexSelect(0, idx).mul(masks.narrow(0, s, n));
            return targetLogits(model.forward(masked, { training: false }), idx.map((i) => targets[i]!)).toArray();
          }),
        );
        scores.set(chunk, s);
      }
      const weights = tensor(scores, [b, k]).softmax(1);
      return weightedSum(weights, sel);
    });
    try {
      return finishCam('scorecam', pre, targets);
    } finally {
      pre.dispose();
    }
  },
});

/** Each image's `k` channels of highest mean activation, most activated first: [B, C, h, w] → [B, k, h, w]. */
function topChannels(acts: Tensor, k: number): Tensor {
  const [, idx] = acts.mean([2, 3]).topk(k, 1);
  return F.stack(Array.from({ length: acts.size(0) }, (_, i) => acts.select(0, i).indexSelect(0, idx.select(0, i))));
}
