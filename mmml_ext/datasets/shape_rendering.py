"""Draw the demo dataset's images: coloured shapes on a noisy background.

Pure numpy, no files: an image is a function of its label set and a random
generator, so the demo dataset needs no download and is the same on every
machine for a given seed. Each class is a (shape, texture, colour) triple; the
shapes differ in outline, the two textures (solid, checkered) in fill, and every
class has its own hue, so a small CNN can tell all 20 apart at 64 px.
"""
import colorsys
import math
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

MaskFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _box(dx, dy):
    return np.maximum(np.abs(dx), np.abs(dy))


# Each mask function takes the pixel offsets from the object's centre and its
# radius, and returns a boolean mask of the pixels that the shape covers.
SHAPE_MASKS: Dict[str, MaskFn] = {
    'disc': lambda dx, dy, r: dx * dx + dy * dy <= r * r,
    'square': lambda dx, dy, r: _box(dx, dy) <= 0.8 * r,
    'triangle': lambda dx, dy, r: (dy <= 0.75 * r) & (np.abs(dx) <= 0.6 * (dy + r)),
    'diamond': lambda dx, dy, r: np.abs(dx) + np.abs(dy) <= r,
    'plus': lambda dx, dy, r: (_box(dx, dy) <= r) & (np.minimum(np.abs(dx), np.abs(dy)) <= r / 3),
    'ring': lambda dx, dy, r: np.abs(np.hypot(dx, dy) - 0.75 * r) <= 0.25 * r,
    'frame': lambda dx, dy, r: np.abs(_box(dx, dy) - 0.7 * r) <= 0.2 * r,
    'hbar': lambda dx, dy, r: (np.abs(dx) <= r) & (np.abs(dy) <= 0.35 * r),
    'vbar': lambda dx, dy, r: (np.abs(dy) <= r) & (np.abs(dx) <= 0.35 * r),
    'saltire': lambda dx, dy, r: (_box(dx, dy) <= 0.8 * r) & (np.minimum(np.abs(dx - dy), np.abs(dx + dy)) <= 0.45 * r),
}
TEXTURES = ('solid', 'checkered')


def _class_specs() -> List[Tuple[str, str, str, Tuple[int, int, int]]]:
    """(name, shape, texture, BGR colour) of each class, head class first."""
    shapes = list(SHAPE_MASKS)
    num_classes = len(shapes) * len(TEXTURES)
    specs = []
    for idx in range(num_classes):
        shape = shapes[idx % len(shapes)]
        texture = TEXTURES[idx // len(shapes)]
        # Step round the hue circle by 7/20 so that neighbouring classes,
        # and the two textures of one shape, get far-apart hues.
        hue = (idx * 7 % num_classes) / num_classes
        value = 1.0 if idx % 2 == 0 else 0.8
        r, g, b = colorsys.hsv_to_rgb(hue, 0.85, value)
        bgr = (int(b * 255), int(g * 255), int(r * 255))
        specs.append((f'{texture}_{shape}', shape, texture, bgr))
    return specs


CLASS_SPECS = tuple(_class_specs())
CLASS_NAMES = tuple(spec[0] for spec in CLASS_SPECS)


def render_image(labels: Sequence[int], rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """Render one image showing one object of each class in ``labels``.

    The objects sit in distinct cells of a square grid (3x3, or finer when an
    image has more than 9 labels), with a random offset and size, so they never
    overlap and every label is visible.

    Args:
        labels (Sequence[int]): Class indices into :data:`CLASS_SPECS`.
        rng (np.random.Generator): Source of all randomness of this image.
        size (int): Height and width in pixels.

    Returns:
        np.ndarray: ``(size, size, 3)`` uint8 image in BGR order, the layout
        that OpenMMLab's image loading produces.
    """
    background = rng.integers(30, 120)
    img = background + rng.normal(0.0, 10.0, size=(size, size, 3))
    grid = max(3, math.ceil(math.sqrt(len(labels))))
    cell = size / grid
    cells = rng.choice(grid * grid, size=len(labels), replace=False)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    checkered = ((yy // 2 + xx // 2) % 2) == 0
    for label, cell_id in zip(labels, cells):
        _, shape, texture, bgr = CLASS_SPECS[label]
        radius = rng.uniform(0.34, 0.46) * cell
        slack = 0.5 * cell - radius
        cy = (cell_id // grid + 0.5) * cell + rng.uniform(-slack, slack)
        cx = (cell_id % grid + 0.5) * cell + rng.uniform(-slack, slack)
        mask = SHAPE_MASKS[shape](xx - cx, yy - cy, radius)
        if texture == 'checkered':
            mask &= checkered
        img[mask] = np.asarray(bgr) + rng.normal(0.0, 6.0, size=(int(mask.sum()), 3))
    return np.clip(img, 0, 255).astype(np.uint8)
