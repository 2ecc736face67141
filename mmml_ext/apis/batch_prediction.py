"""Predictions for many image files: inputs expanded, read by workers, unreadable ones counted.

``tools/predict.py`` is a thin command over this module:

- :func:`expand_inputs` turns what a user types (images, folders, globs, list
  files) into one ordered list of paths, without reading any image;
- :func:`predict_files` reads the images in a ``DataLoader`` (``num_workers``
  processes), runs them through a :class:`MultiLabelInferencer` in batches and
  yields each image's result; an image that cannot be read is yielded with its
  reason instead (or, with ``strict``, stops the run);
- :func:`write_predictions` writes CSV or JSON Lines by the file's extension,
  atomically (a temporary file renamed into place).
"""
import csv
import glob
import json
import os
import os.path as osp
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import mmcv
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader, Dataset

from .multilabel_inferencer import IMG_EXTENSIONS, MultiLabelInferencer, folder_images

#: list files: one image path a line (relative to the list file's folder)
LIST_EXTENSIONS = ('.txt', '.lst')
#: output formats by extension
OUTPUT_EXTENSIONS = ('.csv', '.jsonl')


def expand_inputs(inputs: Sequence[str]) -> List[str]:
    """Image paths from images, folders (their images, in name order), globs (sorted) and list
    files (``.txt`` / ``.lst``: one path a line, relative to the list's folder; ``#`` comments).

    A path that names nothing is kept: it is reported as unreadable, like a damaged image.

    Raises:
        ValueError: No input, a glob that matches nothing, or inputs that hold no image.
    """
    if not inputs:
        raise ValueError('no input: give images, folders, globs or list files')
    paths: List[str] = []
    for item in inputs:
        if osp.isdir(item):
            paths += folder_images(item)
        elif glob.has_magic(item):
            matched = sorted(p for p in glob.glob(item, recursive=True) if osp.isfile(p))
            if not matched:
                raise ValueError(f'{item} matches no file')
            paths += matched
        elif item.lower().endswith(LIST_EXTENSIONS) and osp.isfile(item):
            base = osp.dirname(osp.abspath(item))
            with open(item) as f:
                lines = [line.strip() for line in f]
            paths += [line if osp.isabs(line) else osp.join(base, line)
                      for line in lines if line and not line.startswith('#')]
        else:
            paths.append(item)
    if not paths:
        raise ValueError(f'{" ".join(inputs)} hold no image ({", ".join(IMG_EXTENSIONS)})')
    return paths


class _ImageFiles(Dataset):
    """Each path read and put through the test pipeline; a failure is kept as its reason."""

    def __init__(self, paths: Sequence[str], pipeline: Callable) -> None:
        self.paths, self.pipeline = list(paths), pipeline

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        path = self.paths[index]
        try:
            img = mmcv.imread(path)
        except Exception as error:  # a missing file, a decoder error: reported, not raised
            return index, None, f'{type(error).__name__}: {error}'
        if img is None:
            return index, None, 'not a readable image'
        try:
            return index, self.pipeline(dict(img=img, img_shape=img.shape[:2],
                                             ori_shape=img.shape[:2])), None
        except Exception as error:
            return index, None, f'the test pipeline failed: {type(error).__name__}: {error}'


@dataclass
class Prediction:
    """One input's outcome: its ``result`` (see ``MultiLabelInferencer.postprocess``), or the
    ``error`` that kept it from being read."""
    path: str
    result: Optional[Dict[str, object]] = None
    error: Optional[str] = None


def predict_files(inferencer: MultiLabelInferencer, paths: Sequence[str], batch_size: int = 32,
                  num_workers: int = 0, strict: bool = False) -> Iterator[Prediction]:
    """Predictions for ``paths``, in their order.

    Args:
        inferencer: The model and its rule.
        paths: Image files (:func:`expand_inputs`).
        batch_size (int): Images per forward pass.
        num_workers (int): Reading processes (0: in this one).
        strict (bool): Stop at the first unreadable image (ValueError naming it) instead of
            yielding it with its reason.
    """
    if batch_size < 1 or num_workers < 0:
        raise ValueError(f'batch_size must be >= 1 and num_workers >= 0, got {batch_size} and '
                         f'{num_workers}')
    loader = DataLoader(_ImageFiles(paths, inferencer.pipeline), batch_size=batch_size,
                        num_workers=num_workers, collate_fn=list)  # split below
    for items in loader:
        read = []
        for index, data, error in items:
            if error is None:
                read.append((index, data))
            elif strict:
                raise ValueError(f'{paths[index]}: {error} (without --strict it is skipped '
                                 'and counted)')
        results = {}
        if read:
            preds = inferencer.forward(default_collate([data for _, data in read]))
            results = dict(zip((index for index, _ in read), inferencer.postprocess(preds, None)))
        for index, _, error in items:
            yield Prediction(paths[index], results.get(index), error)


def _atomic_writer(path: str):
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', dir=folder)
    return os.fdopen(handle, 'w', newline=''), temporary


def write_predictions(predictions: Iterable[Prediction], path: str, classes: Sequence[str],
                      all_scores: bool = False) -> int:
    """Write the readable predictions to ``path`` (``.csv`` or ``.jsonl``), atomically.

    CSV: ``image,labels,scores`` (class names and their scores, ``;``-separated, highest
    first), with ``all_scores`` one more column per class. JSON Lines: one object per image
    with ``image``, ``labels``, ``label_indices``, ``scores`` and, with ``all_scores``,
    ``all_scores`` (C values in class order).

    Returns:
        int: The number of images written. Nothing is at ``path`` until all are.
    """
    kind = osp.splitext(path)[1].lower()
    if kind not in OUTPUT_EXTENSIONS:
        raise ValueError(f'--out {path}: the extension chooses the format, one of '
                         f'{", ".join(OUTPUT_EXTENSIONS)}')
    names = list(classes)
    f, temporary = _atomic_writer(path)
    written = 0
    try:
        with f:
            writer = csv.writer(f) if kind == '.csv' else None
            if writer is not None:
                writer.writerow(['image', 'labels', 'scores', *(names if all_scores else [])])
            for prediction in predictions:
                result = prediction.result
                if result is None:
                    continue
                labels = [names[c] for c in result['pred_labels']]
                scores = [round(s, 6) for s in result['pred_label_scores']]
                every = [round(float(s), 6) for s in result['pred_scores']]
                if writer is not None:
                    writer.writerow([prediction.path, ';'.join(labels),
                                     ';'.join(f'{s:.6f}' for s in scores),
                                     *(every if all_scores else [])])
                else:
                    line = dict(image=prediction.path, labels=labels,
                                label_indices=list(result['pred_labels']), scores=scores)
                    if all_scores:
                        line['all_scores'] = every
                    f.write(json.dumps(line) + '\n')
                written += 1
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return written
