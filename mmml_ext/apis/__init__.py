"""Using a trained run: label sets for new images (:class:`MultiLabelInferencer`)."""
from .multilabel_inferencer import MultiLabelInferencer

__all__ = ['MultiLabelInferencer']
