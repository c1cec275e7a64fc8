// The `--nproc` flag of the data-parallel commands (train, distill, replace),
// apart from the launcher (launch.ts) so that registering a command's options
// loads no engine code: the CLI reads SLIMNET_NUM_THREADS and the rest only
// when a command runs, where a bad value is a one-line error.
import type { Command } from 'commander';
import { number } from './parse-args.js';

/** The --nproc help of every data-parallel command; `detail` says what that command adds (which steps only rank 0 does). */
const NPROC_HELP =
  "data-parallel training in N local processes (DistributedDataParallel over Gloo): --batch-size is the global batch, each process takes its part of every batch, so the weights are those of one process with that batch (within float rounding; BatchNorm layers normalise each process's part separately, as DDP does); rank 0 writes the run directory, the others log to files (default: 1; a process started with torchrun's MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK joins that group instead)";

/** Registers `--nproc <n>` (runDistributed's flag) on a training command. */
export function addNprocOption(cmd: Command, detail?: string): Command {
  return cmd.option('--nproc <n>', detail ? `${NPROC_HELP}; ${detail}` : NPROC_HELP, number('int'));
}
