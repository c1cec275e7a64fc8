// `slimnet pipeline`: the whole story in one command — train a baseline,
// prune it with the best protocol of seed 003 (Taylor, global ranking with L2
// normalisation, retraining after each step) to an accuracy floor, take its
// convolutions onto onnxruntime's channel grid and spend what long retraining
// wins back on their MACs (both kept only above the floor), export the pruned
// model to ONNX and print the before/after table with measured latency. Each stage is the ordinary command in a child process, so every
// stage leaves its own run directory and can be rerun or resumed alone.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

export interface PipelineOptions {
  dataset: string;
  arch: string;
  epochs: number;
  fraction: number;
  validation: number;
  maxDrop: number;
  retrainIters: number;
  stepFraction: number;
  patience: number;
  backtrack: boolean;
  criterion: string;
  macsWeight: number;
  finetuneEpochs: number;
  snapTo: number;
  snapIters: number;
  snapTries: number;
  refineSteps: number;
  latencyRuns: number;
  runsDir: string;
  json?: boolean;
}

const BIN = join(fileURLToPath(new URL('.', import.meta.url)), '../../../bin/slimnet.js');

/** Runs one slimnet command; its log streams to stderr, its last stdout line (JSON) is returned. */
function stage(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json'], { stdio: ['inherit', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const forward = () => child.kill('SIGINT');
    process.on('SIGINT', forward);
    child.on('close', (code) => {
      process.off('SIGINT', forward);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new UsageError(`'slimnet ${args[0]}' exited with code ${code}`));
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new UsageError(`'slimnet ${args[0]}' printed no JSON result`));
      }
    });
  });
}

export async function pipelineCommand(o: PipelineOptions): Promise<number> {
  const say = (s: string) => (o.json ? process.stderr : process.stdout).write(`${s}\n`);
  say(`== 1/2 train ${o.arch} on ${o.dataset} (${o.epochs} epochs) ==`);
  const trained = await stage(['train', '--dataset', o.dataset, '--arch', o.arch, '--epochs', String(o.epochs), '--fraction', String(o.fraction), '--validation', String(o.validation), '--runs-dir', o.runsDir]);
  const checkpoint = join(String(trained.run), 'best.safetensors');
  say(`\n== 2/2 prune ${checkpoint}: ${o.criterion}, global, L2 normalisation${o.macsWeight > 0 ? `, MAC weight ${o.macsWeight}` : ''}, retrain ${o.retrainIters} iterations per step, floor ${o.maxDrop} pp under the base${o.snapTo > 1 ? `, then onto multiples of ${o.snapTo} channels` : ''}${o.refineSteps > 0 ? `, then up to ${o.refineSteps} MAC refinement steps` : ''} ==`);
  const pruned = await stage([
    'prune',
    '--checkpoint', checkpoint,
    '--criterion', o.criterion,
    '--scope', 'global',
    '--norm', 'l2',
    '--macs-weight', String(o.macsWeight),
    '--protocol', 'retrain',
    '--retrain-iters', String(o.retrainIters),
    '--step-fraction', String(o.stepFraction),
    '--max-drop', String(o.maxDrop),
    '--patience', String(o.patience),
    ...(o.backtrack ? ['--backtrack'] : []),
    '--snap-to', String(o.snapTo),
    '--snap-iters', String(o.snapIters),
    '--snap-tries', String(o.snapTries),
    '--refine-steps', String(o.refineSteps),
    '--finetune-epochs', String(o.finetuneEpochs),
    '--latency-runs', String(o.latencyRuns),
    '--runs-dir', o.runsDir,
  ]);
  // prune printed the before/after table (to stderr, as --json asks); repeat the headline.
  const x = (v: unknown) => `${Number(v).toFixed(1)}x`;
  const p = (v: unknown) => `${(Number(v) * 100).toFixed(2)} %`;
  say(
    `\nresult: ${x(pruned.params_x)} fewer parameters, ${x(pruned.macs_x)} fewer MACs, onnxruntime ${x(pruned.speedup_ort_b1)} faster at batch 1 and ${x(pruned.speedup_ort_b64)} at batch 64; ` +
      `test accuracy ${p(pruned.base_test_acc)} -> ${p(pruned.pruned_test_acc)}, balanced ${p(pruned.base_test_balanced_acc)} -> ${p(pruned.pruned_test_balanced_acc)}`,
  );
  say(`ONNX model: ${String(pruned.onnx)}`);
  if (o.json) process.stdout.write(`${JSON.stringify({ train: trained, prune: pruned })}\n`);
  return 0;
}
