"""Repeat factors of class-balanced resampling (the LVIS rule and variants).

With f(c) the fraction of images that contain class c and t = ``oversample_thr``:

    r(c) = max(1, sqrt(t / f(c)))             rule 'sqrt' (LVIS, mmengine's default)
    r(c) = min(max_repeat, max(1, t / f(c)))   rule 'inverse'

and an image's factor is the max (default), mean or min of r(c) over its labels,
1 for an image without labels. ``t`` is a fraction of images, not a count:
with t = 0.1, a class in 1 % of the images gets r = sqrt(10) = 3.16.
"""
import numpy as np

from .label_index import LabelIndex

IMAGE_FACTORS = ('max', 'mean', 'min')
REPEAT_RULES = ('sqrt', 'inverse')


def check_repeat_args(oversample_thr: float, image_factor: str, repeat_rule: str,
                      max_repeat: float) -> None:
    if not isinstance(oversample_thr, (int, float)) or not 0 < oversample_thr <= 1:
        raise ValueError(f'oversample_thr must be a fraction of images in (0, 1], got '
                         f'{oversample_thr!r}; a class in fewer than this fraction of the images '
                         'is oversampled (it is not a count)')
    if image_factor not in IMAGE_FACTORS:
        raise ValueError(f'image_factor must be one of {IMAGE_FACTORS}, got {image_factor!r}')
    if repeat_rule not in REPEAT_RULES:
        raise ValueError(f'repeat_rule must be one of {REPEAT_RULES}, got {repeat_rule!r}')
    if not max_repeat >= 1:
        raise ValueError(f'max_repeat must be >= 1, got {max_repeat!r}')


def repeat_factors(index: LabelIndex, oversample_thr: float, image_factor: str = 'max',
                   repeat_rule: str = 'sqrt', max_repeat: float = float('inf')) -> np.ndarray:
    """Per-image repeat factors (float64), vectorised over images and classes."""
    check_repeat_args(oversample_thr, image_factor, repeat_rule, max_repeat)
    freq = index.class_counts() / max(len(index), 1)
    with np.errstate(divide='ignore'):
        ratio = oversample_thr / freq  # inf for a class in no image: no image uses it
    if repeat_rule == 'sqrt':
        class_factor = np.maximum(1.0, np.sqrt(ratio))
    else:
        class_factor = np.minimum(max_repeat, np.maximum(1.0, ratio))
    return index.reduce_per_image(class_factor, image_factor, empty=1.0)
