// Will a training step fit in memory? Checked before a model is allocated,
// so `--batch-size 100000` is refused in a second with a sentence instead of
// growing to 17.7 GB and being killed by the kernel without a word.
//
// The estimate (trainingMemory in graph/summary.ts) counts every node's
// float32 output for every sample of the batch plus weights, gradients and
// optimizer moments; measured peaks stayed below it (lenet5 0.8×, resnet20
// 0.7× of the activation part). The memory available is the kernel's
// MemAvailable (what can be allocated without swapping), or os.freemem()
// where /proc is unreadable, and no more than the room left under the
// process's cgroup limit (docker --memory, Slurm, systemd), whose breach is
// exactly the silent kill this check prevents.
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { humanBytes, trainingMemory, type Graph, type TrainingMemory } from '../graph/index.js';
import { count } from '../report/format.js';
import { UsageError } from '../util/errors.js';

export interface AvailableMemory {
  bytes: number;
  /** Where the figure comes from, for the message. */
  source: string;
}

function readNumber(path: string): number | undefined {
  try {
    const t = readFileSync(path, 'utf8').trim();
    if (t === 'max') return Infinity;
    const n = Number(t);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The room under this process's cgroup memory limit (v2, else v1); undefined without a limit. */
function cgroupRoom(): { bytes: number; limit: number } | undefined {
  let rel = '/';
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (line) rel = line.slice(3) || '/';
  } catch {
    // no /proc: no cgroup to read either
  }
  const candidates: [string, string][] = [
    [`/sys/fs/cgroup${rel}/memory.max`, `/sys/fs/cgroup${rel}/memory.current`],
    ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.usage_in_bytes'],
  ];
  for (const [maxPath, curPath] of candidates) {
    const limit = readNumber(maxPath);
    if (limit === undefined) continue;
    // cgroup v1 says "no limit" with a huge number (2^63 rounded to pages).
    if (!Number.isFinite(limit) || limit >= 2 ** 60) return undefined;
    const used = readNumber(curPath) ?? 0;
    return { bytes: Math.max(0, limit - used), limit };
  }
  return undefined;
}

/** Memory this process can still allocate: MemAvailable (or os.freemem()), capped by the cgroup limit's room. */
export function availableMemory(): AvailableMemory {
  let bytes = freemem();
  let source = 'free memory';
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) {
      bytes = Number(m[1]) * 1024;
      source = 'MemAvailable in /proc/meminfo';
    }
  } catch {
    // not Linux: os.freemem()
  }
  const cg = cgroupRoom();
  if (cg && cg.bytes < bytes) return { bytes: cg.bytes, source: `room under this process's cgroup memory limit of ${humanBytes(cg.limit)}` };
  return { bytes, source };
}

/** Optimizer moments kept per parameter: Adam / AdamW 2, SGD with momentum 1, plain SGD 0. */
export function optimizerMoments(optimizer: string, momentum = 0): number {
  return optimizer === 'adam' || optimizer === 'adamw' ? 2 : momentum > 0 ? 1 : 0;
}

export interface MemoryCheck {
  /** What the command calls the model ('lenet5 (width 0.25)'). */
  model: string;
  graph: Graph;
  /** Samples per training step (the batch size, or the whole training split when it is smaller). */
  batch: number;
  /** The --batch-size asked for (named in the message). */
  batchSize: number;
  optimizer: string;
  momentum?: number;
}

/** The estimate, and a warning when it takes more than half of the memory available. */
export interface MemoryVerdict {
  estimate: TrainingMemory;
  available: AvailableMemory;
  warning: string | null;
}

/**
 * Refuses (a UsageError naming --batch-size and the largest batch that
 * fits) when the training step's estimate exceeds the memory available;
 * otherwise returns it, with a warning above half of it (other programs
 * share the machine). `available` is for tests.
 */
export function checkTrainingMemory(c: MemoryCheck, available: AvailableMemory = availableMemory()): MemoryVerdict {
  const est = trainingMemory(c.graph, c.batch, { optimizerMoments: optimizerMoments(c.optimizer, c.momentum) });
  const need = `a training step of ${c.model} needs about ${humanBytes(est.total)} (${humanBytes(est.perSample)} of activations per sample × ${count(c.batch)} samples, plus ${humanBytes(est.fixed)} of weights, gradients and optimizer state)`;
  const fits = Math.floor((available.bytes - est.fixed) / est.perSample);
  if (est.total <= available.bytes) {
    const warning = est.total > available.bytes / 2 ? `${need}, more than half of the ${humanBytes(available.bytes)} available (${available.source}); other programs may push it out of memory` : null;
    return { estimate: est, available, warning };
  }
  const fix =
    fits >= 1
      ? `use --batch-size ${count(fits)} or less`
      : `the model alone needs ${humanBytes(est.fixed)} for its weights, gradients and ${c.optimizer} state: use a smaller --width or architecture`;
  throw new UsageError(`--batch-size ${c.batchSize}: ${need}, more than the ${humanBytes(available.bytes)} available (${available.source}); ${fix}`);
}
