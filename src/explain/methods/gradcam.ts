// Grad-CAM (Selvaraju et al., ICCV 2017): each channel of the target layer
// weighted by the spatial mean of the target logit's gradient over it;
// ReLU of the weighted sum, at the layer's resolution (pytorch-grad-cam's
// GradCAM).
import { tidy } from '../../tensor/index.js';
import { defineExplainer } from '../registry.js';
import { captureLayer, finishCam, weightedSum } from './cam-common.js';

defineExplainer({
  name: 'gradcam',
  title: 'Grad-CAM',
  source: 'Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization, ICCV 2017',
  family: 'cam',
  usesLayer: true,
  needsBackground: false,
  params: {},
  explain(input) {
    const pre = tidy(() => {
      const { acts, grads } = captureLayer(input, { grads: true });
      return weightedSum(grads!.mean([2, 3]), acts);
    });
    try {
      return finishCam('gradcam', pre, input.targets);
    } finally {
      pre.dispose();
    }
  },
});
