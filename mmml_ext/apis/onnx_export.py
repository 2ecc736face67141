"""A trained run as an ONNX file and a sidecar JSON, for inference without torch.

The graph takes a float32 batch ``image`` of shape (N, 3, H, W), pixel values
0-255 in the channel order the sidecar names, with dynamic N, H and W (a
pipeline without resize, as the demo's, takes images at their own size). It
normalises with the config's ``data_preprocessor`` mean and std, runs the
model, and outputs ``scores`` (N, C): the sigmoid of the head's logits, passed
through the checkpoint's per-class temperature scaling unless asked not to.
Everything a client needs beside the graph is in the sidecar
(``<model>.json``):

- ``classes``; ``thresholds`` on the scale of ``scores`` (the tuned ones mapped
  through the same temperature scaling, so a label set is
  ``scores >= thresholds``) and the ``rule`` they come from;
- ``preprocessing``: ``channel_order``, ``resize`` / ``center_crop`` (from the
  config's test pipeline), and the ``mean`` / ``std`` already applied in the
  graph.

Only test pipelines of ``Resize`` (a fixed size), ``ResizeEdge`` (short or long
edge), ``CenterCrop`` and ``PackInputs`` are exported: any other transform is
refused by name, since a client could not repeat it from the sidecar.
"""
import os
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmpretrain.models.heads import MultiLabelClsHead

from ..functional.temperature_scaling import apply_inverse_temperature
from ..run_facts.json_file import write_json
from .multilabel_inferencer import MultiLabelInferencer

#: test-pipeline transforms a client can repeat from the sidecar
EXPORTABLE_TRANSFORMS = ('LoadImageFromFile', 'Resize', 'ResizeEdge', 'CenterCrop',
                         'PackInputs')
SIDECAR_VERSION = 1


class ScoreGraph(torch.nn.Module):
    """Normalise, run the classifier, sigmoid, optional per-class temperature scaling."""

    def __init__(self, model: torch.nn.Module, mean: torch.Tensor, std: torch.Tensor,
                 inverse_temperature: Optional[torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer('mean', mean.reshape(1, -1, 1, 1).float().clone())
        self.register_buffer('std', std.reshape(1, -1, 1, 1).float().clone())
        scale = torch.ones(0) if inverse_temperature is None else inverse_temperature.float()
        self.register_buffer('inverse_temperature', scale)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits = self.model((image - self.mean) / self.std, mode='tensor')
        if self.inverse_temperature.numel():
            logits = logits * self.inverse_temperature
        return torch.sigmoid(logits)


def preprocessing_of(pipeline: List[dict], to_rgb: bool, mean, std) -> Dict[str, object]:
    """The sidecar's ``preprocessing`` from a config's test pipeline."""
    steps: Dict[str, object] = dict(channel_order='RGB' if to_rgb else 'BGR', resize=None,
                                    center_crop=None, mean=[float(v) for v in mean],
                                    std=[float(v) for v in std], normalized_in_graph=True)
    for transform in pipeline:
        kind = transform.get('type')
        if kind not in EXPORTABLE_TRANSFORMS:
            raise ValueError(f'the test pipeline has {kind}, which the sidecar cannot describe '
                             f'(exportable: {", ".join(EXPORTABLE_TRANSFORMS)})')
        if kind == 'Resize':
            scale = transform.get('scale')
            if transform.get('keep_ratio') or not isinstance(scale, (list, tuple)):
                raise ValueError(f'Resize{transform}: only a fixed (width, height) is exported')
            steps['resize'] = dict(size=[int(scale[0]), int(scale[1])])
        elif kind == 'ResizeEdge':
            steps['resize'] = dict(edge=transform.get('edge', 'short'),
                                   length=int(transform['scale']))
        elif kind == 'CenterCrop':
            crop = transform['crop_size']
            crop = [crop, crop] if isinstance(crop, int) else list(crop)
            steps['center_crop'] = [int(crop[0]), int(crop[1])]
    return steps


def export_onnx(inferencer: MultiLabelInferencer, out: str, image_size: Optional[int] = None,
                opset: Optional[int] = None) -> Dict[str, object]:
    """Write ``out`` (ONNX) and its sidecar ``<out without .onnx>.json``; returns the sidecar.

    Args:
        inferencer: The model, its rule and whether its scores are calibrated.
        out (str): The ONNX file.
        image_size (int, optional): H = W of the example input that traces the graph
            (H and W stay dynamic); the pipeline's crop or resize size, else 224.
        opset (int, optional): ONNX opset; torch's default when None.
    """
    model = inferencer.model
    if not isinstance(model.head, MultiLabelClsHead):
        raise ValueError(f'the head is {type(model.head).__name__}, not a multi-label head '
                         'with sigmoid scores (ImbalancedMultiLabelHead, '
                         'MultiLabelLinearClsHead, ...): nothing to export as label sets')
    if inferencer.topk is not None:
        raise ValueError('a top-k rule is not a threshold: export with thr (the tuned '
                         'thresholds, a number or a file)')
    preprocessor = model.data_preprocessor
    pipeline = [dict(t) for t in inferencer.config.test_dataloader.dataset.pipeline]
    steps = preprocessing_of(pipeline, bool(getattr(preprocessor, 'to_rgb', False)),
                             preprocessor.mean.flatten().tolist(),
                             preprocessor.std.flatten().tolist())
    graph = ScoreGraph(model, preprocessor.mean, preprocessor.std,
                       inferencer.inverse_temperature).eval().cpu()
    size = image_size or (steps['center_crop'] or [None])[0] or (
        (steps['resize'] or {}).get('size') or [224])[0]
    example = torch.rand(2, 3, size, size) * 255
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    temporary = osp.join(folder, f'.{osp.basename(out)}.part')
    try:
        torch.onnx.export(graph, (example, ), temporary, input_names=['image'],
                          output_names=['scores'], dynamo=True, opset_version=opset,
                          dynamic_shapes={'image': {0: torch.export.Dim('batch'),
                                                    2: torch.export.Dim('height', min=32),
                                                    3: torch.export.Dim('width', min=32)}})
        os.replace(temporary, out)
    finally:
        if osp.exists(temporary):
            os.unlink(temporary)
    thresholds = inferencer.thresholds
    if thresholds is not None and inferencer.thresholds_on_raw_scores \
            and inferencer.inverse_temperature is not None:
        thresholds = apply_inverse_temperature(thresholds, inferencer.inverse_temperature)
    sidecar = dict(version=SIDECAR_VERSION, model=osp.basename(out),
                   input=dict(name='image', shape=['N', 3, 'H', 'W'], dtype='float32',
                              range=[0, 255]),
                   output=dict(name='scores', shape=['N', inferencer.num_classes],
                               calibrated=inferencer.inverse_temperature is not None),
                   classes=list(inferencer.classes or
                                [str(c) for c in range(inferencer.num_classes)]),
                   thresholds=[float(t) for t in thresholds], rule=inferencer.rule,
                   preprocessing=steps)
    write_json(sidecar_path(out), sidecar)
    return sidecar


def sidecar_path(out: str) -> str:
    """``model.onnx`` -> ``model.json``."""
    return (out[:-5] if out.endswith('.onnx') else out) + '.json'
