"""Tie-exact mean average precision, by frequency group and by sample, with a per-class report.

``MeanAP`` reports mAP (scikit-learn's ``average_precision_score`` per class,
averaged over the classes that have a positive) and, when the training-set class
counts are known, the mAP of the head, medium and tail classes; on request the
sample mAP (the same AP per image over its classes, averaged over the images
that have a positive). It also writes a
per-class report (class, support, training count, P, R, F1 at a threshold, AP)
as JSON and CSV at each evaluation, through the evaluation context.

Training counts come from the ``class_counts`` argument (a list, or the
``class_counts.json`` that training runs and ``tools/class_counts.py`` write),
else from the run: ``RunFactsHook`` gives the statistics of the training set
(in a test, those stored in the checkpoint).
"""
from typing import Dict, Optional, Sequence, Union

import torch

from mmpretrain.registry import METRICS

from ..functional import per_class_prf
from ..functional.average_precision import class_mean, sample_average_precision, sample_mean
from ..functional.bootstrap import bootstrap_average_precision
from ..functional.checks import check_thr
from ..run_facts import class_stats as class_stats_file
from ..run_facts.class_stats import ClassStats
from .base import BaseMultiLabelMetric, check_absent_classes
from .shared_rows import EvaluationRows

GROUPS = ('head', 'medium', 'tail')
#: the keys of the class AP (the per-class AP and its means)
CLASS_ITEMS = ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
#: ``(low, high)`` of the groups: tail < 20 training images, head > 100 (VOC-MLT / COCO-MLT)
DEFAULT_GROUP_BOUNDS = (20, 100)


def frequency_groups(counts: Sequence[int], bounds: Sequence[float]) -> Dict[str, torch.Tensor]:
    """Boolean class masks: tail n < low, medium low <= n <= high, head n > high."""
    counts = torch.as_tensor(counts)
    low, high = bounds
    return dict(head=counts > high, medium=(counts >= low) & (counts <= high), tail=counts < low)


def average_precision_means(ap: torch.Tensor, include_absent: bool,
                            class_counts: Optional[Sequence[int]] = None,
                            group_bounds: Sequence[float] = DEFAULT_GROUP_BOUNDS
                            ) -> Dict[str, torch.Tensor]:
    """mAP, and head / medium / tail mAP with training counts, from per-class AP.

    The one reduction of :class:`MeanAP`, for its point estimate ((C,) AP) and
    for bootstrap replicates ((R, C) AP): :func:`class_mean` over all classes
    and over each non-empty frequency group.

    Returns:
        dict: ``mAP`` and ``mAP_<group>`` -> (...) float64 fractions.
    """
    values = {'mAP': class_mean(ap, include_absent)}
    if class_counts is not None:
        for group, mask in frequency_groups(class_counts, group_bounds).items():
            if bool(mask.any()):
                values[f'mAP_{group}'] = class_mean(ap[..., mask], include_absent)
    return values


def sample_mean_average_precision(scores: torch.Tensor, target: torch.Tensor,
                                  weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Sample mAP of :class:`MeanAP` (fraction): the one definition, for the bootstrap.

    :func:`~mmml_ext.functional.average_precision.sample_average_precision` of
    each row, reduced by :func:`~mmml_ext.functional.average_precision.sample_mean`
    with ``weights`` (None, (N,) or (B, N) replicate counts), as :meth:`MeanAP.compute`
    reduces the rows' terms.
    """
    return sample_mean(sample_average_precision(scores, target, validate_args=False), weights)


@METRICS.register_module()
class MeanAP(BaseMultiLabelMetric):
    """Tie-exact mAP, head / medium / tail mAP, sample mAP and a per-class report, in percent.

    AP of a class is scikit-learn's ``average_precision_score``: the step-wise
    area under its precision-recall curve, with tied scores grouped, so it does
    not depend on sample order. A class with no positive has no AP: it is left
    out of the means and named in a warning (or counted as 0 with
    ``absent_classes='include'``, mmpretrain's and scikit-learn's habit), the
    rule of every class mean of the plugin. Ignored labels (-1) are left out of
    their class's ranking.

    ``sample_mAP`` (not among the defaults) is the same AP taken per sample
    (image) over its classes, averaged over the samples with a positive (the
    sample mAP of Kobayashi, CVPR 2023): a sample with no positive has no AP and
    is left out (whatever ``absent_classes`` says: that rule is about classes),
    one with no negative has AP 100 (both named in a warning). It is computed
    where the rows are, so a sharded evaluation exchanges no rows for it.

    Args:
        items (Sequence[str]): From ``mAP mAP_head mAP_medium mAP_tail
            sample_mAP``. Defaults to the first four; the group keys need
            training class counts and are left out (with a warning) without them.
        class_counts (list | str, optional): Training images per class, or a
            ``class_counts.json`` file. Defaults to the run's training
            statistics, which ``RunFactsHook`` provides.
        group_bounds (tuple): ``(low, high)``: tail classes have fewer than
            ``low`` training images, head classes more than ``high``, medium
            the rest. Defaults to ``(20, 100)`` (the VOC-MLT / COCO-MLT split).
        absent_classes (str): A class with no positive in the evaluated
            data: ``'exclude'`` (left out of the means, default) or
            ``'include'`` (counted as AP 0).
        report (bool): Write the per-class report at each evaluation, into
            ``out_dir``, else the work dir that ``RunFactsHook`` provides.
            Defaults to True.
        report_thr (float): Threshold of the report's P, R, F1. Defaults to 0.5.
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    SHARDABLE = True
    ALL_ITEMS = CLASS_ITEMS + ('sample_mAP', )
    DEFAULT_ITEMS = CLASS_ITEMS
    INTERVAL_KEYS = {'mAP': ALL_ITEMS}
    #: a class's AP on a test set is biased upward and its replicates sit above it: the basic
    #: interval on the logit scale covered best in the coverage study (docs/experiments.md);
    #: sample_mAP, a mean over independent images, is not biased: percentile
    INTERVAL_METHOD = {key: 'logit-basic' for key in CLASS_ITEMS}
    #: 200 images: mAP 83.9-93.5 %, the groups 83.9-93.9 %; 5,000: 92.7-95.3 %.
    #: sample_mAP, percentile, 200 images: 92.9-95.2 % (2,000 sets per population)
    INTERVAL_HOLDS_FROM = dict({key: 5000 for key in CLASS_ITEMS}, sample_mAP=200)
    COMPARED_BY_DEFAULT = True

    def __init__(self,
                 items: Optional[Sequence[str]] = None,
                 class_counts: Union[str, Sequence[int], None] = None,
                 group_bounds: Sequence[float] = DEFAULT_GROUP_BOUNDS,
                 absent_classes: str = 'exclude',
                 report: bool = True,
                 report_thr: float = 0.5,
                 empty_as_zero: Optional[bool] = None,
                 **kwargs):
        if empty_as_zero is not None:
            raise ValueError("MeanAP's empty_as_zero is now absent_classes, one rule for every "
                             "class mean: empty_as_zero=True is absent_classes='include', False "
                             "is absent_classes='exclude' (the default)")
        super().__init__(items=items, **kwargs)
        if (len(group_bounds) != 2 or not 0 <= group_bounds[0] <= group_bounds[1]):
            raise ValueError(f'group_bounds must be (low, high) with 0 <= low <= high, '
                             f'got {group_bounds!r}')
        check_thr(report_thr)
        self.class_stats: Optional[ClassStats] = (
            None if class_counts is None else class_stats_file.load(class_counts))
        self.group_bounds = tuple(group_bounds)
        self.absent_classes = check_absent_classes(absent_classes)
        self.report = report
        self.report_thr = report_thr

    @property
    def group_items(self) -> Sequence[str]:
        return [item for item in self.items if item in CLASS_ITEMS[1:]]

    def uses_class_stats(self) -> bool:
        return self.class_stats is None and bool(self.group_items or self.report)

    def statistics_settings(self, num_classes: int):
        stats = self.train_class_stats()
        return 'mAP', dict(difficult_as=self.difficult_as, absent_classes=self.absent_classes,
                           group_bounds=list(self.group_bounds),
                           class_counts=None if stats is None else list(stats.class_counts))

    def train_class_stats(self) -> Optional[ClassStats]:
        """The training statistics: from ``class_counts``, else from the run."""
        return self.class_stats if self.class_stats is not None else self.context.class_stats

    @classmethod
    def replicate_values(cls, family, settings, data):
        ap = bootstrap_average_precision(data.scores, data.target(settings.get('difficult_as')),
                                         data.counts)
        counts = settings.get('class_counts')
        if counts is None and data.predictions.train_class_counts is not None:
            counts = data.predictions.train_class_counts.tolist()
        values = average_precision_means(ap, settings.get('absent_classes') == 'include', counts,
                                         settings.get('group_bounds') or data.group_bounds)
        values['sample_mAP'] = sample_mean_average_precision(
            data.scores, data.target(settings.get('difficult_as')), data.counts)
        return values

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        result = {}
        if any(item in CLASS_ITEMS for item in self.items) or self.report:
            result.update(self._compute_class_ap(rows))
        if 'sample_mAP' in self.items:
            result['sample_mAP'] = self._compute_sample_ap(rows)
        return {item: result[item] for item in self.items if item in result}

    def _compute_sample_ap(self, rows: EvaluationRows) -> float:
        """Sample mAP in percent, from the rows' per-sample AP (its one reduction,
        :func:`sample_mean`, as the bootstrap's)."""
        terms = rows.sample_average_precision(self.difficult_as)
        ap = terms['ap']
        has_ap = ~torch.isnan(ap)
        value = 100 * float(sample_mean(ap))
        left_out = len(ap) - int(has_ap.sum())
        if left_out:
            self.warn_once('sample_no_positive', f'{left_out} of {len(ap)} sample(s) have no '
                           'positive among their evaluated labels, so no AP: they are left out '
                           'of sample_mAP')
        trivial = int((has_ap & ~terms['has_negative']).sum())
        if trivial:
            carried = 100 * trivial / int(has_ap.sum())
            self.warn_once('sample_no_negative', f'{trivial} sample(s) have no evaluated '
                           'negative (every evaluated label is positive), so their AP is 100 '
                           f'whatever the model; they carry {carried:.1f} of sample_mAP\'s '
                           f'{value:.1f} points')
        return value

    def _compute_class_ap(self, rows: EvaluationRows) -> Dict[str, float]:
        """mAP and its groups in percent (the report written), from the per-class AP."""
        ap = rows.average_precision(self.difficult_as)
        self.class_mean_mask(~torch.isnan(ap), self.absent_classes)  # names them once
        stats = self.train_class_stats()
        if stats is not None:
            stats.check_num_classes(len(ap), type(self).__name__)
        counts = None if stats is None else stats.class_counts
        if self.group_items and counts is None:
            self.warn_once('no_counts', f'no training class counts, so no {self.group_items}: '
                           "give class_counts, or add dict(type='RunFactsHook') to custom_hooks")
        means = average_precision_means(ap, self.absent_classes == 'include', counts,
                                        self.group_bounds)
        result = {item: 100 * float(means[item]) for item in self.items if item in means}
        self._warn_no_negative(rows, ap, result.get('mAP'))
        if self.report:
            self.write_report(rows, ap, counts)
        return result

    def _warn_no_negative(self, rows: EvaluationRows, ap: torch.Tensor,
                          mean_ap: Optional[float]) -> None:
        """Count the classes whose evaluated cells are all positive: their AP is 100 whatever the
        model (every ranking puts a positive first), so the warning says how much of the mean
        they carry."""
        tallies = self._report_tallies(rows)
        negatives = tallies['fp'] + tallies['tn']
        trivial = ((tallies['tp'] + tallies['fn'] > 0) & (negatives == 0)).nonzero().flatten()
        if len(trivial) == 0 or mean_ap is None:
            return
        shown = self.named_classes(trivial.tolist())
        in_mean = int((~torch.isnan(ap)).sum()) if self.absent_classes == 'exclude' else len(ap)
        carried = 100 * len(trivial) / max(in_mean, 1)
        self.warn_once('no_negative', f'{len(trivial)} class(es) have no evaluated negative (every '
                       'evaluated cell is a positive), so their AP is 100 whatever the model; '
                       f'they stay in mAP by the protocol and carry {carried:.1f} of its '
                       f'{mean_ap:.1f} points (the per-class report\'s "negatives" column): '
                       f'{shown}')

    def _report_tallies(self, rows: EvaluationRows) -> Dict[str, torch.Tensor]:
        """The confusion counts at ``report_thr``: the report's precision and recall, and each
        class's evaluated positives (tp + fn) and negatives (fp + tn), which no threshold
        changes; one cached count serves the report and the warning."""
        return rows.confusion(self.report_thr, None, self.difficult_as)

    def write_report(self, rows: EvaluationRows, ap: torch.Tensor,
                     counts: Optional[Sequence[int]]) -> None:
        """Write the evaluation's ``per_class/<tag>.json`` and ``.csv`` (through the context)."""
        tallies = self._report_tallies(rows)
        prf = per_class_prf(tallies['tp'], tallies['fp'], tallies['fn'])
        support = (tallies['tp'] + tallies['fn']).tolist()
        negatives = (tallies['fp'] + tallies['tn']).tolist()
        names = self.class_names or [str(i) for i in range(len(ap))]
        columns = dict(precision=(100 * prf['precision']).tolist(),
                       recall=(100 * prf['recall']).tolist(), f1=(100 * prf['f1']).tolist(),
                       ap=[None if v != v else 100 * v for v in ap.tolist()])
        report = [
            dict(class_name=names[c], support=support[c], negatives=negatives[c],
                 train_count=None if counts is None else int(counts[c]),
                 **{key: values[c] for key, values in columns.items()})
            for c in range(len(ap))
        ]
        written = self.context.write_report(self.out_dir, dict(thr=self.report_thr,
                                                               num_samples=rows.num_samples),
                                             report)
        if written is None:
            self.warn_once('no_dir', 'no out_dir and no work dir, so no per-class report: add '
                           "dict(type='RunFactsHook') to custom_hooks, or give out_dir")
