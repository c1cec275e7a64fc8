// The public tensor API of slimnet.
export { Tensor, type Device, type Shape, type SliceSpec } from './tensor.js';
export * from './create.js';
export * as F from './ops.js';
export * from './autograd.js';
export * from './runtime.js';
export { tidy, keep, Scope, trackedCount, type Disposable } from './scope.js';
export { callOp, callOpAsync, opSchema, type OpArg, type OpResult } from './call.js';
export { op, listOps, OpRef } from './dispatch.js';
export { saveTensors, loadTensors, encodeSafetensors, decodeSafetensors, readTensorFile, describeJson, type Metadata, type LoadedTensors } from './serialize.js';
export { runInWorker, type WorkerTask, type TaskFunction } from './worker.js';
export { SlimnetError, OpError, DisposedTensorError, SerializationError } from './errors.js';
export { ProcessGroup, DistributedError, envRendezvous, distributedBackends, DEFAULT_TIMEOUT_MS, type ProcessGroupOptions, type Rendezvous, type ReduceOp, type DistBackend } from './distributed.js';
export { DTYPES, isDType, isFloating, type DType } from './dtype.js';
