// The flags of `slimnet distill`: the teacher, the student and the losses,
// then every training option of `slimnet train` except --arch (the student
// is --student), and the run flags.
import type { Command } from 'commander';
import { number } from '../parse-args.js';
import { addNprocOption } from '../nproc-option.js';
import { addTrainOptions } from './train-options.js';

/** Registers every flag and the help text of `slimnet distill`. */
export function addDistillOptions(cmd: Command): Command {
  cmd
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
  addTrainOptions(cmd, { exclude: ['arch'] })
    .option('--config <file>', 'read training options from a JSON or YAML file; command-line flags override it (default: none)')
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--version <n>', 'resume distillation run version N exactly where it stopped, with its own configuration (default: start a new version)', number('int'))
    .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)');
  return addNprocOption(cmd, 'the teacher runs on each process\'s part of every batch (cached teacher logits are looked up by sample index); rank 0 alone writes --export-onnx')
    .addHelpText(
      'after',
      '\nThe student reads the images as the teacher was trained on them: a checkpoint teacher\'s data set and normalisation are the defaults.' +
        '\n--recipe seed002 trains with the seed-002 recipe without label smoothing (the seed distils without it).' +
        '\nCtrl-C stops after the current step and saves a resumable state (exit code 130); a NaN loss stops with exit code 1 and keeps the last good checkpoint.' +
        '\n\nExamples:\n  slimnet distill --teacher runs/train/fashion-mnist-resnet20/version_0/best.safetensors --student teacher --width 0.5 --loss kd' +
        '\n  slimnet distill --teacher teacher.onnx --student resnet20 --width 0.25 --loss kd,at --dataset fashion-mnist' +
        '\n  slimnet distill --teacher base.safetensors --student runs/prune/.../pruned.safetensors --loss kd,at --epochs 5' +
        '\n  slimnet distill --teacher t.safetensors --loss kd --loss-param kd.temperature=2 --export-onnx',
    );
}
