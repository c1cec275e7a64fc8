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
export { integratedGradients, gaussLegendre, type IntegratedGradientsOptions } from './methods/ig.js';
export { saliencyMaps } from './methods/saliency.js';
export { gradientTimesInput } from './methods/gradxinput.js';
export { smoothGrad, type SmoothGradOptions } from './methods/smoothgrad.js';
export { gradientShap, type GradientShapOptions } from './methods/gradientshap.js';
export { occlusion, type OcclusionOptions } from './methods/occlusion.js';
export { deletionInsertion, perturbationCurve, gaussianBlur, atInputSize, pixelOrder, trapezoid, type CurveMode, type CurveOptions, type CurveResult, type FaithfulnessResult, type PerturbBaseline } from './faithfulness.js';
export { modelRandomisation, randomisationOrder, type SanityOptions, type SanityReport, type SanityStep } from './sanity.js';
export { compareModels, mapAgreement, spearman, averageRanks, topOverlap, checkSameInput, predictions, type ComparisonInput, type ComparisonReport, type ClassSummary, type Disagreement, type MapAgreement, type NamedModel, type PairComparison } from './compare.js';
