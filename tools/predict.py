"""Label sets of new images from a trained run: ``python tools/predict.py CONFIG CKPT INPUT... --out FILE``.

INPUT: images, folders (their images, in name order), globs ('imgs/**/*.jpg', quoted) or list
files (.txt / .lst, one path a line, relative to the list's folder). The output's extension
chooses its format: ``.csv`` (``image,labels,scores``; ``--all-scores`` adds one column per
class) or ``.jsonl``; it is written atomically. The rule: the thresholds tuned on validation for
the checkpoint (``--thr tuned``, the default), a threshold (``--thr 0.5``), a thresholds file
(``--thr FILE``), or ``--topk K``. Scores are calibrated where the checkpoint has a
temperature scaling fitted on validation (``--raw-scores``: the model's own). An image that cannot be read is named, skipped and counted
(``--strict`` stops on it instead). See docs/inference.md.
"""
import argparse
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Predict the label sets of images')
    parser.add_argument('config', help='the config of the run')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('inputs', nargs='+', help='images, folders, globs or list files')
    parser.add_argument('--out', required=True, help='output file, .csv or .jsonl')
    parser.add_argument('--thr', default=None,
                        help="'tuned' (default without --topk), a threshold in [0, 1] or a "
                        'thresholds file')
    parser.add_argument('--topk', type=int, help='predict the K highest scores instead')
    parser.add_argument('--all-scores', action='store_true', help='every class score as well')
    parser.add_argument('--raw-scores', action='store_true',
                        help="the model's own scores, not the calibrated ones (the label sets "
                        'at the tuned thresholds are the same)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-workers', type=int, default=2, help='image reading processes')
    parser.add_argument('--device', default=None, help="'cpu', 'cuda', 'cuda:1'; the available "
                        'one by default')
    parser.add_argument('--strict', action='store_true', help='stop at an unreadable image')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    console = Console(stderr=True)
    from mmml_ext.apis import MultiLabelInferencer
    from mmml_ext.apis.multilabel_inferencer import threshold_rule
    from mmml_ext.apis.batch_prediction import expand_inputs, predict_files, write_predictions
    try:
        paths = expand_inputs(args.inputs)
        inferencer = MultiLabelInferencer(args.config, args.checkpoint, device=args.device,
                                          thr=threshold_rule(args.thr), topk=args.topk,
                                          calibrated=not args.raw_scores)
        classes = inferencer.classes or [str(c) for c in range(inferencer.num_classes)]
        calibration = 'calibrated' if inferencer.inverse_temperature is not None else 'raw'
        console.print(f'{len(paths)} images; rule: {inferencer.rule}; {calibration} scores',
                      soft_wrap=True)
        skipped = []
        with Progress(TextColumn('predict'), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task('predict', total=len(paths))

            def tracked():
                for prediction in predict_files(inferencer, paths, args.batch_size,
                                                args.num_workers, args.strict):
                    progress.advance(task)
                    if prediction.error is not None:
                        skipped.append(prediction)
                        progress.console.print(f'skipped {prediction.path}: {prediction.error}',
                                               soft_wrap=True)
                    yield prediction

            written = write_predictions(tracked(), args.out, classes, args.all_scores)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'predict: {error}')
    console.print(f'{written} images written to {args.out}'
                  + (f'; {len(skipped)} skipped (unreadable)' if skipped else ''), soft_wrap=True)
    if not written:
        sys.exit(1)


if __name__ == '__main__':
    main()
