// The channel block of onnxruntime's CPU convolutions on this machine. Its
// MLAS kernels pack channels in blocks of the widest vector (NCHWc): 16
// floats with AVX-512, 8 with AVX2; a convolution whose channel count is off
// the block falls back to a slower path, and a count one over a block costs a
// whole extra block. Pruning to multiples of this block is what turns fewer
// MACs into measured speed (lenet5 at batch 64: conv2 with 19 maps ran as
// slow as with 32, with 16 maps 1.24x faster).
import { readFileSync } from 'node:fs';

/** The block from a /proc/cpuinfo text: 16 (avx512f), 8 (avx2), else 1 (no blocked layout to aim for). */
export function channelBlockFromCpuinfo(cpuinfo: string): number {
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  if (flags.has('avx512f')) return 16;
  if (flags.has('avx2')) return 8;
  return 1;
}

let cached: number | undefined;

/** This machine's block (1 where /proc/cpuinfo is unreadable, e.g. not Linux); read once per process. */
export function ortChannelBlock(): number {
  if (cached === undefined) {
    try {
      cached = channelBlockFromCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      cached = 1;
    }
  }
  return cached;
}
