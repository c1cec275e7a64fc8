// Gradient × input (Shrikumar et al. 2016; Ancona et al. 2018): the first
// order Taylor contribution of each input value to the target's logit,
// x ⊙ ∂y_t/∂x — exact for a linear model (w ⊙ x). The signed per-channel
// attributions are summed over channels into one [B, H, W] map.
import { noGrad, tidy, type Tensor } from '../../tensor/index.js';
import type { Model } from '../../graph/index.js';
import { defineExplainer } from '../registry.js';
import { inputGradients, pixelInput, sumChannels } from './gradient-common.js';

/** Σ over channels of x ⊙ ∂(target logit)/∂x per image: [B, H, W] float32. */
export function gradientTimesInput(model: Model, x: Tensor, targets: readonly number[]): Tensor {
  return tidy(() => {
    const g = inputGradients(model, x, targets);
    return sumChannels(noGrad(() => g.mul(x.detach())));
  });
}

defineExplainer({
  name: 'gradxinput',
  title: 'Gradient × input',
  source: 'Shrikumar et al., Not Just a Black Box, 2016; Ancona et al., ICLR 2018',
  family: 'gradient',
  usesLayer: false,
  needsBackground: false,
  params: {},
  explain(input) {
    pixelInput('gradxinput', input);
    return { maps: gradientTimesInput(input.model, input.x, input.targets), resolution: 'input', warnings: [] };
  },
});
