// Process-wide engine settings: threads, seeding, RNG state, devices.
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

export function engineInfo(): { torchVersion: string; threads: number; cuda: boolean; parallel: string } {
  const b = native.buildInfo();
  return { torchVersion: b.torchVersion, threads: native.getNumThreads(), cuda: b.cuda, parallel: b.parallel };
}
