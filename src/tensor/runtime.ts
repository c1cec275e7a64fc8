// Process-wide engine settings: threads, seeding, RNG state, devices.
import { readFileSync } from 'node:fs';
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { guarded } from './errors.js';

/** Intra-op threads libtorch uses (defaults to every available core). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Seeds libtorch's default CPU (and CUDA) generators. */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** The CPU generator state (uint8 tensor), for exact resumption of a run. */
export function getRngState(): Tensor {
  return new Tensor(native.getRngState());
}
export function setRngState(state: Tensor): void {
  guarded('setRngState', () => native.setRngState(state.handle));
}

export function cudaAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}

export interface BlasInfo {
  /** The BLAS library file mapped into this process (libtorch's matrix products for linear layers). */
  path: string;
  /** Netlib's reference BLAS: correct but unoptimised, about 40x slower on linear layers than OpenBLAS here. */
  reference: boolean;
}

/**
 * Which BLAS libtorch ended up with. Debian's libtorch links the system
 * libblas.so.3, which is the reference BLAS unless an optimised one
 * (OpenBLAS, BLIS, MKL) is installed; a pip libtorch brings its own MKL.
 * Null where /proc is not readable.
 */
export function blasInfo(): BlasInfo | null {
  void native; // libtorch (and with it the BLAS) is loaded with the addon
  try {
    return blasFromMaps(readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return null;
  }
}

/** The BLAS among the files of a /proc/<pid>/maps listing (exported for tests). */
export function blasFromMaps(maps: string): BlasInfo | null {
  const files = new Set(maps.split('\n').map((l) => l.slice(l.indexOf('/')).trim()).filter((f) => f.startsWith('/')));
  const libs = [...files].filter((f) => /blas|blis|mkl/i.test(f.split('/').pop() ?? ''));
  if (libs.length === 0) return null;
  // Debian's alternatives keep the name libblas.so.3 for every implementation; the folder or the library behind it tells them apart.
  const optimised = libs.find((f) => /openblas|blis|mkl/i.test(f));
  return optimised ? { path: optimised, reference: false } : { path: libs[0]!, reference: true };
}

export function engineInfo(): { torchVersion: string; threads: number; cuda: boolean; parallel: string; blas: BlasInfo | null } {
  const b = native.buildInfo();
  return { torchVersion: b.torchVersion, threads: native.getNumThreads(), cuda: b.cuda, parallel: b.parallel, blas: blasInfo() };
}

/**
 * Native tensor handles alive right now (neither disposed nor finalized) and
 * the storage bytes they own: the leak check for code that holds tensors,
 * independent of whether the C allocator hands freed pages back to the system.
 */
export function liveNativeTensors(): { handles: number; bytes: number } {
  return native.liveHandles();
}
