// The graph layer: IR, node-kind registry, builder, validated graphs, models,
// execution with hooks (observing or replacing outputs), editing, and counting.
export { GraphError, type GraphNode, type GraphJSON, type Attrs, type AttrValue, type Shape } from './ir.js';
export { defineKind, kindOf, allKinds, hasTrait, kindsWith, KIND_TRAITS, PassRegistry, numel, type KindDef, type KindTrait, type ParamSpecs, type TensorSpec, type Init, type ForwardContext } from './registry.js';
export * from './kinds/index.js';
export { Graph } from './graph.js';
export { GraphBuilder, type Ref } from './builder.js';
export { Model, type ForwardOptions, type TensorEntry } from './model.js';
export { type Hooks, type Feeds } from './executor.js';
export { Capture, HookSet, composeHooks, mapOutput, type CaptureOptions, type NodeMatch } from './hooks.js';
export { insertAfter, insertScale, replaceSubgraph, extractSubgraph, boundary, type NewNode } from './edit.js';
export { summarize, trainingMemory, humanCount, humanBytes, type Summary, type SummaryRow, type TrainingMemory } from './summary.js';
export { saveCheckpoint, loadCheckpoint, CHECKPOINT_FORMAT_VERSION, CHECKPOINT_KEYS, type LoadedCheckpoint } from './checkpoint.js';
export { headNode, replaceHead, inputShape, checkInputFits } from './head.js';
