// Measurements of real inference cost (latency in onnxruntime and slimnet's engine).
export * from './latency.js';
export * from './blocks.js';
