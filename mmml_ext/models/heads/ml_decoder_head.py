"""``MLDecoderHead``: the ML-Decoder classification head (Ridnik et al., WACV 2023).

ML-Decoder replaces global average pooling and the linear layer by attention: K query
vectors attend to the backbone's spatial features, and each query's output decodes a group
of classes. Re-implemented from the paper ("ML-Decoder: Scalable and Versatile
Classification Head"); for features X (B, L, D) of L positions (the H x W of a feature map,
or a transformer's tokens):

    E   = ReLU(X W_e + b_e)                                   (B, L, d)   input projection
    Q0  = LN_1(Q)                                             (K, d)      the queries
    A   = LN_2(Q0 + MHA(Q0, E, E))                            (B, K, d)   cross-attention
    H   = LN_3(A + W_2 ReLU(W_1 A + b_1) + b_2)               (B, K, d)   feed-forward
    z_c = <H_k, U_k[:, j]> + b_c,  c = k g + j,  g = ceil(C / K)           group fully-connected

The decoder has no self-attention (the paper removes it: the queries are fixed, so
attending among them adds cost, not information). The queries Q are **not learned** by
default (the paper finds fixed random queries as good as learned ones); K = min(100, C)
groups, so the attention's cost does not grow with the number of classes and only the
group fully-connected layer (d x g weights per group, d x C in all, like a linear head's)
does. Defaults of the paper: d = 768, 8 heads, a 2048-wide feed-forward layer, dropout 0.1,
one decoder layer.

The head shares the plugin's habits with ``ImbalancedMultiLabelHead``
(:mod:`.imbalance_head_mixin`): every loss, the -1 rule, the prior bias (on b) and tuned
thresholds. It needs the spatial features: the model's ``neck=None``.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS
from torch import nn

from ...config_keys import refuse_unknown
from ...functional.checks import check_int
from ...run_facts.tuned_thresholds import ThresholdSpec
from .imbalance_head_mixin import ImbalanceHeadMixin, check_head_options


def group_sizes(num_classes: int, num_groups: int) -> Tuple[int, int]:
    """(K, g): the number of queries, min(num_groups, C), and the classes each decodes,
    ceil(C / K); the last group's surplus outputs (K g - C of them) are dropped."""
    queries = min(num_groups, num_classes)
    return queries, math.ceil(num_classes / queries)


@MODELS.register_module()
class MLDecoderHead(ImbalanceHeadMixin, MultiLabelClsHead):
    """ML-Decoder: group queries cross-attending to the spatial features.

    Args:
        num_classes (int): Number of classes C.
        in_channels (int): Channels D of the backbone's last feature map (or tokens).
        num_groups (int): Group queries K (at most C: one class per query then).
            Defaults to 100 (the paper's).
        embed_dims (int): Decoder width d. Defaults to 768.
        num_heads (int): Attention heads (``embed_dims`` must divide by it). Defaults to 8.
        feedforward_channels (int): Width of the feed-forward layer. Defaults to 2048.
        drop_rate (float): Dropout of the attention weights and of each residual branch.
            Defaults to 0.1.
        learnable_queries (bool): Learn the queries Q. Defaults to False (fixed random
            queries, kept in the checkpoint).
        loss (dict): Any registered multi-label loss. Defaults to ``MultiLabelBCELoss()``.
        prior (str | Sequence[float], optional): ``'counts'`` or a list of class priors:
            the logit bias b starts at logit(pi_c). Defaults to None (b = 0).
        class_counts (list | str, optional): Training images per class for
            ``prior='counts'``. Defaults to ``RunFactsHook``.
        num_images (int, optional): Number of training images, same source.
        thresholds (float | list | str, optional): Per-class thresholds of ``pred_label``,
            as in ``ImbalancedMultiLabelHead`` (``'tuned'``, a file, a list, a number).
        thr (float, optional): One threshold of ``pred_label``.
        topk (int, optional): Labels predicted per sample.
        init_cfg (dict, optional): Defaults to None (PyTorch's initialisation of the
            projections; the group weights U are Xavier-normal, b is 0).

    Examples:
        >>> model = dict(neck=None,  # ML-Decoder reads the feature map
        ...              head=dict(type='MLDecoderHead', num_classes=80, in_channels=2048,
        ...                        loss=dict(type='MultiLabelAsymmetricLoss')))
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 in_channels: Optional[int] = None,
                 num_groups: int = 100,
                 embed_dims: int = 768,
                 num_heads: int = 8,
                 feedforward_channels: int = 2048,
                 drop_rate: float = 0.1,
                 learnable_queries: bool = False,
                 loss: dict = dict(type='MultiLabelBCELoss'),
                 prior: Union[str, Sequence[float], None] = None,
                 class_counts: Union[str, Sequence[int], None] = None,
                 num_images: Optional[int] = None,
                 thresholds: ThresholdSpec = None,
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = None,
                 **unexpected):
        refuse_unknown(self, unexpected)
        for name, value in (('num_classes', num_classes), ('in_channels', in_channels),
                            ('num_groups', num_groups), ('embed_dims', embed_dims),
                            ('num_heads', num_heads),
                            ('feedforward_channels', feedforward_channels)):
            check_int(value, name)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be a multiple of num_heads '
                             f'({num_heads})')
        if isinstance(drop_rate, bool) or not isinstance(drop_rate, (int, float)) \
                or not 0 <= drop_rate < 1:
            raise ValueError(f'drop_rate must be in [0, 1), got {drop_rate!r}')
        check_head_options(num_classes, thresholds, thr, topk)
        super().__init__(loss=loss, thr=thr, topk=topk, init_cfg=init_cfg)
        self.num_classes, self.in_channels = num_classes, in_channels
        queries, per_group = group_sizes(num_classes, num_groups)

        self.input_proj = nn.Linear(in_channels, embed_dims)
        query = torch.randn(queries, embed_dims)  # nn.Embedding's N(0, 1)
        if learnable_queries:
            self.query = nn.Parameter(query)
        else:
            self.register_buffer('query', query)
        self.query_norm = nn.LayerNorm(embed_dims)
        self.cross_attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=drop_rate,
                                                batch_first=True)
        self.attn_drop = nn.Dropout(drop_rate)
        self.attn_norm = nn.LayerNorm(embed_dims)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, feedforward_channels), nn.ReLU(inplace=True),
            nn.Dropout(drop_rate), nn.Linear(feedforward_channels, embed_dims),
            nn.Dropout(drop_rate))
        self.ffn_norm = nn.LayerNorm(embed_dims)
        # group fully-connected: query k decodes classes k g .. k g + g - 1
        self.group_weight = nn.Parameter(torch.empty(queries, embed_dims, per_group))
        self.group_bias = nn.Parameter(torch.zeros(num_classes))
        nn.init.normal_(self.group_weight, std=math.sqrt(2.0 / (embed_dims + per_group)))
        self.init_head_options(prior, class_counts, num_images, thresholds)

    def classifier_bias(self) -> torch.Tensor:
        return self.group_bias

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The last stage's features as (B, L, D) positions."""
        x = feats[-1]
        if x.dim() == 4:  # (B, D, H, W)
            x = x.flatten(2).transpose(1, 2)
        elif x.dim() != 3:
            raise ValueError(
                f'MLDecoderHead reads spatial features, (B, D, H, W) or tokens (B, L, D), '
                f'got shape {tuple(x.shape)}: a pooled (B, D) vector comes from a neck such as '
                'GlobalAveragePooling; set model.neck=None')
        if x.shape[-1] != self.in_channels:
            raise ValueError(f'MLDecoderHead has in_channels={self.in_channels}, the features '
                             f'have {x.shape[-1]} channels (shape {tuple(feats[-1].shape)})')
        return x

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(B, C) logits."""
        memory = F.relu(self.input_proj(self.pre_logits(feats)))
        query = self.query_norm(self.query).expand(memory.shape[0], -1, -1)
        attended = self.cross_attn(query, memory, memory, need_weights=False)[0]
        hidden = self.attn_norm(query + self.attn_drop(attended))
        hidden = self.ffn_norm(hidden + self.ffn(hidden))
        logits = torch.einsum('bkd,kdg->bkg', hidden, self.group_weight).flatten(1)
        return logits[:, :self.num_classes] + self.group_bias
