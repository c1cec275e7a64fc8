// Export of trained (and pruned) models: ONNX files, with a check that
// onnxruntime computes what slimnet computes. Each node kind has its handler
// in one registry (onnxHandlers), as each has its channel rule in pruning.
export { exportOnnx, saveOnnx, buildOnnxModel, onnxNodeCount, DEFAULT_OPSET, MIN_OPSET, MAX_OPSET, BATCH_DIM, type OnnxExportOptions } from './onnx/export.js';
export { onnxHandlers, OnnxExportError, type OnnxHandler, type OnnxNodeContext, type OnnxAttr } from './onnx/handlers.js';
export { verifyOnnx, type VerifyOptions, type VerifyResult, type VerifiedOutput } from './onnx/verify.js';
export { importOnnx, importHandlers, OnnxImportError, type OnnxImportOptions, type OnnxImportResult, type OnnxImportReport, type ImportHandler, type ImportContext } from './onnx/import/import.js';
