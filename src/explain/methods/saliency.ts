// Vanilla gradients (Simonyan, Vedaldi & Zisserman 2014, "Deep inside
// convolutional networks"): how much a small change of each pixel moves the
// target's logit, |∂y_t/∂x|. Per-channel magnitudes are reduced by their
// maximum over channels (the paper's map, and Captum's usual display), so
// the map is [B, H, W] at the input's resolution.
import { tidy, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { defineExplainer } from '../registry.js';
import { inputGradients, maxChannels, pixelInput } from './gradient-common.js';

/** max over channels of |∂(target logit)/∂x| per image: [B, H, W] float32. */
export function saliencyMaps(model: Model, x: Tensor, targets: readonly number[]): Tensor {
  return tidy(() => maxChannels(inputGradients(model, x, targets).abs()));
}

defineExplainer({
  name: 'saliency',
  title: 'Saliency (vanilla gradients)',
  source: 'Simonyan, Vedaldi & Zisserman, Deep Inside Convolutional Networks, ICLR workshop 2014',
  family: 'gradient',
  usesLayer: false,
  needsBackground: false,
  params: {},
  explain(input) {
    pixelInput('saliency', input);
    return { maps: saliencyMaps(input.model, input.x, input.targets), resolution: 'input', warnings: [] };
  },
});
