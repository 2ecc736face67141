"""The seed-covering image margins transcribed with numpy, for tests of seed_noise and the
comparison: the image interval's margins shrunk to the noise all runs share."""
import numpy as np


def shrunk_image_interval(point, low, high, runs_replicates, mean_replicates):
    """``low, high`` with margins times ``sqrt(max(V - sum q / S, 0) / V)``.

    Args:
        runs_replicates: each side's (S, B) replicates (one row per seed).
        mean_replicates: (B,) replicates of the seed mean (or of the difference).
    """
    own = 0.0
    for reps in runs_replicates:
        reps = np.asarray(reps, dtype=np.float64)
        runs = reps.shape[0]
        if runs > 1:
            deviations = reps - reps.mean(axis=0)
            own += np.var(deviations, axis=1, ddof=1).sum() / (runs - 1) / runs
    total = np.var(mean_replicates, ddof=1)
    factor = np.sqrt(max(total - own, 0.0) / total)
    return point - factor * (point - low), point + factor * (high - point)
