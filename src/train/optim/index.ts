// Optimizers: update parameters in place from their gradients.
export { Optimizer, type BaseHyper, type ParamGroup, type ParamGroupInit, type ParamState, type OptimizerState } from './optimizer.js';
export { Adam, ADAM_DEFAULTS, type AdamHyper, type AdamOptions } from './adam.js';
export { AdamW, ADAMW_DEFAULTS } from './adamw.js';
export { SGD, SGD_DEFAULTS, type SGDHyper, type SGDOptions } from './sgd.js';
export { paramGroupsFor, classifyParameters, type ParamGroupsOptions, type ParamInfo, type ParamCategory } from './groups.js';
export { buildOptimizer, validateOptimizerSpec, OPTIMIZER_TYPES, type OptimizerSpec, type OptimizerType } from './spec.js';
