"""Label sets from an exported model with onnxruntime, numpy and Pillow only (no torch).

    python tools/deploy/onnx_predict.py model.onnx IMAGE [IMAGE ...] [--batch-size 32]

Reads ``model.json`` beside the model (written by ``tools/export.py``), prepares each image as
its ``preprocessing`` says (channel order, resize, center crop; the graph normalises), and
prints one JSON line per image: ``image``, ``labels`` (class names with
``scores >= thresholds``, highest score first) and ``scores`` (theirs). Copy this file next to
the model: it imports nothing of mmml_ext.
"""
import argparse
import json
import sys

import numpy as np
import onnxruntime
from PIL import Image


def load_image(path: str, steps: dict) -> np.ndarray:
    """(3, H, W) float32 pixels 0-255 in the sidecar's channel order."""
    image = Image.open(path).convert('RGB')
    resize = steps.get('resize')
    if resize and 'size' in resize:
        image = image.resize(tuple(resize['size']), Image.BILINEAR)
    elif resize:
        width, height = image.size
        side = min(width, height) if resize['edge'] == 'short' else max(width, height)
        scale = resize['length'] / side
        image = image.resize((round(width * scale), round(height * scale)), Image.BILINEAR)
    crop = steps.get('center_crop')
    if crop:
        width, height = image.size
        left, top = (width - crop[0]) // 2, (height - crop[1]) // 2
        image = image.crop((left, top, left + crop[0], top + crop[1]))
    array = np.asarray(image, dtype=np.float32)
    if steps['channel_order'] == 'BGR':
        array = array[..., ::-1]
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def predict(model: str, paths, batch_size: int = 32):
    """Yield ``(path, labels, scores of the labels, all scores)`` per image."""
    with open((model[:-5] if model.endswith('.onnx') else model) + '.json') as f:
        sidecar = json.load(f)
    session = onnxruntime.InferenceSession(model, providers=['CPUExecutionProvider'])
    thresholds = np.asarray(sidecar['thresholds'], dtype=np.float32)
    classes = sidecar['classes']
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        batch = np.stack([load_image(p, sidecar['preprocessing']) for p in chunk])
        scores = session.run([sidecar['output']['name']],
                             {sidecar['input']['name']: batch})[0]
        for path, row in zip(chunk, scores):
            chosen = np.flatnonzero(row >= thresholds)
            chosen = chosen[np.argsort(-row[chosen], kind='stable')]
            yield path, [classes[c] for c in chosen], row[chosen].tolist(), row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description='Label sets with an exported ONNX model')
    parser.add_argument('model')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--batch-size', type=int, default=32)
    args = parser.parse_args(argv)
    for path, labels, scores, _ in predict(args.model, args.images, args.batch_size):
        sys.stdout.write(json.dumps(dict(image=path, labels=labels,
                                         scores=[round(s, 6) for s in scores])) + '\n')


if __name__ == '__main__':
    main()
