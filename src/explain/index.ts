// Explanations: attribution methods in one registry (methods/), targets and
// the CAM target layer, faithfulness (deletion / insertion), sanity checks
// and the comparison of maps across models.
export { ExplainError } from './errors.js';
export { defineExplainer, explainer, explainerNames, resolveExplainParams, type Explainer, type ExplainInput, type Explanation, type ExplainParam } from './registry.js';
export { resolveTargets, targetLogits, targetProbs, type TargetChoice } from './targets.js';
export { autoTargetLayer, spatialNodes, targetLayer } from './layer.js';
import './methods/index.js';
export { segmentImage, slicSegments, gridSegments, defaultSegments, defaultMethod, type Segmentation, type SegmentMethod, type SuperpixelOptions } from './superpixels.js';
export { limeValues, type LimeResult } from './methods/lime.js';
export { kernelShapValues, kernelShapCoalitions, type ShapleyResult } from './methods/kernelshap.js';
