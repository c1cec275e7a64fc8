// The flags of `slimnet explain`.
import type { Command } from 'commander';
import { number } from '../parse-args.js';

/** Registers every flag and the help text of `slimnet explain`. */
export function addExplainOptions(cmd: Command): Command {
  return cmd
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
    );
}
