"""A trained run as ONNX: ``python tools/export.py CONFIG CKPT --out model.onnx``.

Writes ``model.onnx`` (float32 (N, 3, H, W) pixels 0-255 in, calibrated sigmoid scores out,
dynamic batch) and ``model.json`` beside it (class names, thresholds on the scale of the
scores, preprocessing). ``tools/deploy/onnx_predict.py`` reads both with onnxruntime, numpy and
Pillow only. Needs the deploy extra: ``pip install -e .[deploy]``. See docs/inference.md.
"""
import argparse


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a multi-label run to ONNX')
    parser.add_argument('config', help='the config of the run')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--out', required=True, help='the ONNX file (its sidecar: .json)')
    parser.add_argument('--thr', default=None,
                        help="'tuned' (default), a threshold in [0, 1] or a thresholds file")
    parser.add_argument('--raw-scores', action='store_true',
                        help="the model's own scores, without the temperature scaling")
    parser.add_argument('--image-size', type=int, help='H = W of the tracing input')
    parser.add_argument('--opset', type=int, help='ONNX opset (torch\'s default)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmml_ext.apis import MultiLabelInferencer
    from mmml_ext.apis.multilabel_inferencer import threshold_rule
    from mmml_ext.apis.onnx_export import export_onnx, sidecar_path
    try:
        inferencer = MultiLabelInferencer(args.config, args.checkpoint, device='cpu',
                                          thr=threshold_rule(args.thr),
                                          calibrated=not args.raw_scores)
        sidecar = export_onnx(inferencer, args.out, args.image_size, args.opset)
    except ImportError as error:
        raise SystemExit(f'export: {error}; install the deploy extra: pip install -e .[deploy]')
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'export: {error}')
    print(f'{args.out} and {sidecar_path(args.out)}: {len(sidecar["classes"])} classes, '
          f'{inferencer.rule}, {"calibrated" if sidecar["output"]["calibrated"] else "raw"} '
          'scores')


if __name__ == '__main__':
    main()
