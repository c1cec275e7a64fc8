// LayerCAM (Jiang et al., IEEE TIP 2021): a weight per location instead of
// per channel — each activation weighted by the positive part of its own
// gradient, summed over channels, then ReLU (pytorch-grad-cam's LayerCAM).
import { tidy } from '../../tensor/index.js';
import { defineExplainer } from '../registry.js';
import { captureLayer, finishCam } from './cam-common.js';

defineExplainer({
  name: 'layercam',
  title: 'LayerCAM',
  source: 'Jiang et al., LayerCAM: Exploring Hierarchical Class Activation Maps for Localization, IEEE TIP 2021',
  family: 'cam',
  usesLayer: true,
  needsBackground: false,
  params: {},
  explain(input) {
    const pre = tidy(() => {
      const { acts, grads } = captureLayer(input, { grads: true });
      return grads!.relu().mul(acts).sum(1);
    });
    try {
      return finishCam('layercam', pre, input.targets);
    } finally {
      pre.dispose();
    }
  },
});
