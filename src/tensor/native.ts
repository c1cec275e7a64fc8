// Loads the N-API addon and types its surface. Everything above src/tensor
// goes through the Tensor API, never through this module.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';

/** An opaque native tensor handle (a type-tagged N-API External). */
export type Handle = { readonly __handle: unique symbol };
/** An opaque resolved-operator handle. */
export type OpHandle = { readonly __op: unique symbol };

/** An opaque process-group handle (native/src/distributed.cc). */
export type GroupHandle = { readonly __group: unique symbol };

/** Values the op bridge accepts and returns, besides handles. */
export type NativeValue = Handle | number | boolean | string | null | undefined | readonly NativeValue[];

export interface NativeAddon {
  fromArray(data: ArrayBufferView, shape: readonly number[], dtype: string, device?: string): Handle;
  toArray(h: Handle): ArrayBuffer;
  meta(h: Handle): [number[], string, string, boolean];
  shape(h: Handle): number[];
  dispose(h: Handle): void;
  isDisposed(h: Handle): boolean;
  item(h: Handle): number | boolean;
  share(h: Handle): Handle;
  storageBytes(h: Handle): number;
  sameStorage(a: Handle, b: Handle): boolean;
  liveHandles(): { handles: number; bytes: number };

  findOp(name: string, overload: string): OpHandle;
  call(op: OpHandle, ...args: NativeValue[]): NativeValue;
  callAsync(op: OpHandle, ...args: NativeValue[]): Promise<NativeValue>;
  opSchema(op: OpHandle): string;
  listOps(): string[];

  backward(outputs: Handle[], grads: (Handle | null)[] | null, retainGraph: boolean, createGraph: boolean): void;
  backwardAsync(outputs: Handle[], grads: (Handle | null)[] | null, retainGraph: boolean): Promise<void>;
  grad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: (Handle | null)[] | null,
    retainGraph: boolean | undefined,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  getGrad(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  setRequiresGrad(h: Handle, flag: boolean): void;
  retainGrad(h: Handle): void;
  isLeaf(h: Handle): boolean;
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;

  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  getRngState(): Handle;
  setRngState(h: Handle): void;
  cudaDeviceCount(): number;
  buildInfo(): { torchVersion: string; parallel: string; cuda: boolean };

  // Process groups. Collectives are issued in call order and settle when
  // every rank has taken part; a rejection carries libtorch's or Gloo's
  // message alone (src/tensor/distributed.ts names the op and the ranks).
  distBackends(): string[];
  distInit(spec: {
    host: string;
    port: number;
    worldSize: number;
    rank: number;
    /** Bound on each collective (and on Gloo's connection setup). */
    timeoutMs: number;
    /** Bound on reaching the store and on waiting for every rank to join. */
    initTimeoutMs: number;
    /** Bind Gloo to this host's address (loopback runs). */
    deviceHost?: string;
    /** Or to this network interface (GLOO_SOCKET_IFNAME). */
    deviceInterface?: string;
  }): Promise<GroupHandle>;
  distAllReduce(g: GroupHandle, tensors: Handle[], op: 'sum' | 'avg'): Promise<void>;
  distBroadcast(g: GroupHandle, tensor: Handle, root: number): Promise<void>;
  distAllGather(g: GroupHandle, tensor: Handle): Promise<Handle[]>;
  distBarrier(g: GroupHandle): Promise<void>;
  distDestroy(g: GroupHandle): void;
}

function addonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env.SLIMNET_ADDON,
    join(here, '..', '..', 'build', 'Release', 'slimnet_native.node'),
  ].filter((p): p is string => !!p);
  for (const p of candidates) if (existsSync(p)) return p;
  // The same path from src/tensor (a checkout) and dist/tensor (a checkout or an installed package).
  const build = join(here, '..', '..', 'scripts', 'build-native.mjs');
  throw new Error(
    `slimnet: native addon not found (looked in ${candidates.join(', ')}). Build it with 'node ${build}' ` +
      `(needs libtorch: apt-get install libtorch-dev, or LIBTORCH=/path/to/libtorch).`,
  );
}

export const native: NativeAddon = createRequire(import.meta.url)(addonPath()) as NativeAddon;

// Debian's libtorch starts with one thread; use every core the process may
// run on unless SLIMNET_NUM_THREADS says otherwise. A value that is not a
// positive integer is an error (not silently every core): a typo must not
// change the thread count, and with it the numbers, unnoticed.
function defaultThreads(): number {
  const raw = process.env.SLIMNET_NUM_THREADS;
  if (raw === undefined || raw.trim() === '') return availableParallelism();
  const n = Number(raw);
  if (!(Number.isInteger(n) && n > 0)) throw new UsageError(`SLIMNET_NUM_THREADS must be a positive integer (libtorch's thread count), got '${raw}'`);
  return n;
}
native.setNumThreads(defaultThreads());
