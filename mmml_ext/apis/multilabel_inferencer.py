"""Label sets for new images from a trained run: mmpretrain's inferencer with a multi-label rule.

mmpretrain's ``ImageClassificationInferencer`` answers one label per image (the
argmax of the scores), which is the wrong question for a multi-label model. This
inferencer keeps its interface (``model=`` a config, ``pretrained=`` a
checkpoint, ``device=``; called on image paths, arrays or a folder, with
``batch_size=``) and answers a **label set** per image, by one of three rules:

- the thresholds tuned on validation for these weights (the default,
  ``thr='tuned'``): ``TunedThresholdF1`` with ``RunFactsHook`` stores them in
  the checkpoint, so a checkpoint carries its own decision rule;
- fixed thresholds: ``thr=0.5``, a list of one threshold per class, or a
  thresholds file (``thresholds.json`` as the run writes it; a relative path is
  relative to the checkpoint's directory, the run's work dir);
- the ``topk`` highest scores.

A class is predicted when its score is at or above its threshold (the rule of
the metrics and of the head, :func:`~mmml_ext.functional.confusion.multilabel_predict`).
A checkpoint without tuned thresholds is refused with ``thr='tuned'``: the user
chooses a rule, nothing falls back to 0.5 silently.

The scores returned are **calibrated** where the checkpoint allows: with the
thresholds, ``TunedThresholdF1`` fits a per-class temperature scaling on the same
validation data (:mod:`mmml_ext.functional.temperature_scaling`), so that a
score of 0.8 means about 80 % positives. It keeps every ranking, and the tuned
thresholds (on the model's own scores) give the same label sets.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.apis import ImageClassificationInferencer, get_model
from mmpretrain.structures import DataSample

from ..functional.checks import check_topk
from ..functional.confusion import multilabel_predict
from ..functional.temperature_scaling import apply_inverse_temperature
from ..run_facts import tuned_thresholds
from ..run_facts.tuned_thresholds import TUNED, ThresholdSource, TunedThresholds

ThresholdRule = Union[str, float, Sequence[float], None]
#: the files of a folder that are read as images (mmpretrain's folder datasets' list)
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


def threshold_rule(text: Optional[str]) -> ThresholdRule:
    """A command line's ``--thr``: a number is a threshold; ``'tuned'`` or a file stays text."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def folder_images(folder: str) -> List[str]:
    """The images of ``folder`` (not its subfolders), in name order; none is an error."""
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMG_EXTENSIONS)
                   and osp.isfile(osp.join(folder, name)))
    if not names:
        raise ValueError(f'{folder} holds no image ({", ".join(IMG_EXTENSIONS)})')
    return [osp.join(folder, name) for name in names]


class MultiLabelInferencer(ImageClassificationInferencer):
    """The label set of each image, at the checkpoint's tuned thresholds by default.

    Args:
        model (str | Config | BaseModel): A config (path or object) of a
            multi-label model, or a built model.
        pretrained (str): The checkpoint to load (its tuned thresholds and class
            names come with it).
        device (str, optional): ``'cpu'``, ``'cuda'``, ...; the available one
            when None.
        thr (str | float | list, optional): The rule: ``'tuned'`` (default when
            ``topk`` is None), a threshold in [0, 1], one per class, or a
            thresholds file.
        topk (int, optional): Predict the ``topk`` highest scores instead.
        classes (list[str], optional): Class names, when the checkpoint has none.
        calibrated (bool): Return the scores through the per-class temperature
            scaling fitted on validation with the tuned thresholds, when the
            checkpoint has one (default). The tuned thresholds apply to the
            model's own scores, so the label sets do not change; a ``thr`` the
            user gives applies to the returned scores.

    Examples:
        >>> from mmml_ext.apis import MultiLabelInferencer
        >>> inferencer = MultiLabelInferencer(  # doctest: +SKIP
        ...     'configs/demo/resnet18_shapes-lt_bce.py',
        ...     'work_dirs/resnet18_shapes-lt_bce/epoch_6.pth')
        >>> inferencer('image.png')[0]['pred_classes']  # doctest: +SKIP
        ['solid_disc', 'solid_frame', 'solid_plus']
    """

    def __init__(self, model, pretrained: Union[str, bool] = True,
                 device: Union[str, torch.device, None] = None, thr: ThresholdRule = None,
                 topk: Optional[int] = None, classes: Optional[Sequence[str]] = None,
                 calibrated: bool = True, **kwargs) -> None:
        if thr is not None and topk is not None:
            raise ValueError(f'give thr or topk, not both (got thr={thr!r}, topk={topk!r})')
        checkpoint, checkpoint_path = None, pretrained if isinstance(pretrained, str) else None
        if isinstance(pretrained, str):
            if not osp.isfile(pretrained):
                raise FileNotFoundError(f'pretrained: no checkpoint at {pretrained}')
            model = model if isinstance(model, torch.nn.Module) else get_model(
                model, pretrained=False, **kwargs)
            checkpoint = _load_weights(model, pretrained)
            meta = checkpoint.get('meta') or {}
            if isinstance(meta.get('dataset_meta'), dict):
                model._dataset_meta = meta['dataset_meta']
            pretrained = False
            kwargs = {}  # the model is built
        super().__init__(model, pretrained=pretrained, device=device, classes=classes, **kwargs)
        self.num_classes = _num_classes(self.model)
        check_topk(topk, self.num_classes)
        if self.classes is not None and len(self.classes) != self.num_classes:
            raise ValueError(f'{len(self.classes)} class names for a model of '
                             f'{self.num_classes} classes')
        self.topk = topk
        tuned = None if checkpoint is None else tuned_thresholds.from_checkpoint(checkpoint)
        #: (C,) inverse temperatures applied to the returned scores, or None (raw scores)
        self.inverse_temperature = None
        if calibrated and tuned is not None and tuned.calibrated:
            self.inverse_temperature = tuned.inverse_temperatures(self.num_classes,
                                                                  'inverse temperatures')
        rule = TUNED if thr is None and topk is None else thr
        self.thresholds, self.rule = self._resolve_rule(rule, tuned, checkpoint_path)
        #: whether the thresholds apply to the model's own scores (tuned ones) or to the
        #: returned, calibrated ones (a user's)
        self.thresholds_on_raw_scores = rule == TUNED

    def _resolve_rule(self, thr: ThresholdRule, tuned: Optional[TunedThresholds],
                      path: Optional[str]):
        if thr is None:
            return None, f'top-{self.topk}'
        source = ThresholdSource(thr, 'thr')
        if source.is_tuned:
            if tuned is None:
                raise ValueError(
                    'thr=\'tuned\': the checkpoint has no thresholds tuned on validation (its '
                    'weights were not validated with TunedThresholdF1 and RunFactsHook in '
                    'custom_hooks, or it is not a checkpoint of such a run); choose a rule: '
                    'thr=0.5, a thresholds file, or topk=k')
            values = tuned.values(self.num_classes, 'thr')
            return values, f'tuned thresholds ({tuned.tuned_on or "validation"})'
        work_dir = osp.dirname(osp.abspath(path)) if path is not None else None
        values = source.resolve(self.num_classes, work_dir=work_dir)
        if source.is_file:
            return values, f'thresholds file {source.file_path(work_dir)}'
        return values, (f'thr={source.spec}' if isinstance(source.spec, float)
                        else 'per-class thresholds')

    def _inputs_to_list(self, inputs) -> list:
        """A folder: its images in name order (mmpretrain lists every file, in disk order)."""
        if isinstance(inputs, str) and osp.isdir(inputs):
            return folder_images(inputs)
        return super()._inputs_to_list(inputs)

    def postprocess(self, preds: List[DataSample], visualization: List[np.ndarray],
                    return_datasamples: bool = False) -> List[Dict[str, object]]:
        """Per image: ``pred_labels`` (class indices, highest score first), ``pred_classes``,
        ``pred_label_scores``, ``pred_scores`` (all C scores), the ``rule`` used and whether
        the scores are ``calibrated``."""
        if return_datasamples:
            return preds
        if not preds:
            return []
        raw = torch.stack([sample.pred_score for sample in preds]).float().cpu()
        scores = raw if self.inverse_temperature is None else apply_inverse_temperature(
            raw, self.inverse_temperature)
        thr = None if self.thresholds is None else self.thresholds.to(scores)
        positive = multilabel_predict(raw if self.thresholds_on_raw_scores else scores, thr,
                                      self.topk)
        # labels of each image by descending score: sort once, keep the predicted ones
        order = scores.argsort(dim=1, descending=True, stable=True)
        kept = positive.gather(1, order)
        results = []
        for row, (ranked, keep) in enumerate(zip(order.tolist(), kept.tolist())):
            labels = [c for c, k in zip(ranked, keep) if k]
            result = dict(pred_labels=labels,
                          pred_label_scores=[float(scores[row, c]) for c in labels],
                          pred_scores=scores[row].numpy(), rule=self.rule,
                          calibrated=self.inverse_temperature is not None)
            if self.classes is not None:
                result['pred_classes'] = [self.classes[c] for c in labels]
            results.append(result)
        return results


def _load_weights(model: torch.nn.Module, path: str) -> dict:
    """Load ``path`` into ``model`` (weights only, mmml_ext's allowlist); a checkpoint whose
    tensors do not fit the config (another class count) is refused with the parameter named."""
    try:
        return load_checkpoint(model, path, map_location='cpu', strict=True,
                               logger='silent')
    except RuntimeError as error:
        raise ValueError(f'{path} does not fit the config\'s model (another class count or '
                         f'backbone?): {error}') from error


def _num_classes(model: torch.nn.Module) -> int:
    head = getattr(model, 'head', None)
    num = getattr(head, 'num_classes', None)
    if not isinstance(num, int):
        raise ValueError(f'{type(model).__name__} has no head with num_classes: '
                         'MultiLabelInferencer needs a multi-label classifier')
    return num
