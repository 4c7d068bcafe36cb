"""The model plugins: the paper's parameter counts, 1-D and 2-D variants, and pruning through their residual,
depthwise and squeeze-excite channels (the dependency groups of ``core.trial.prune_groups``)."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from core.trial.prune_groups import find_prune_groups
from core.trial.surgery import prune_by_fraction, remove_channels
from plugins.hw.tflm import TflmTarget
from plugins.models.mobilenetv3 import MobileNetV3
from plugins.models.resnet import ResNet


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _board() -> TflmTarget:
    return TflmTarget("t", 1 << 24, 1 << 22, 1024, 1024, 1e8, "cortex-m4", 1.0, 10**12, 100.0)


def test_default_configs_give_the_papers_parameter_counts(make_cfg) -> None:
    resnet = instantiate(make_cfg("model=resnet").model).build((3, 32, 32), 10)
    mobilenet = instantiate(make_cfg("model=mobilenetv3_1d").model).build((24, 1024), 13)
    print(f"scaled ResNet-18: {_params(resnet):,}; scaled MobileNetV3-1D: {_params(mobilenet):,}")
    assert abs(_params(resnet) / 1.6e6 - 1) < 0.10  # paper: ~1.6M on CIFAR-10
    assert abs(_params(mobilenet) / 2.3e6 - 1) < 0.10  # paper: ~2.3M on DaLiAc (24 x 1024, 13 classes)


def test_mobilenetv3_matches_the_reference_imagenet_sizes() -> None:
    """Howard et al.'s MobileNetV3-Small/Large at 224x224, 1000 classes: 2,542,856 and 5,483,032 parameters."""
    assert _params(MobileNetV3("small").build((3, 224, 224), 1000)) == 2_542_856
    assert _params(MobileNetV3("large").build((3, 224, 224), 1000)) == 5_483_032


@pytest.mark.parametrize(
    ("factory", "shape"),
    [
        (lambda: ResNet(), (3, 32, 32)),
        (lambda: ResNet((1, 1), 16, conv_dim=1, stem_stride=2), (6, 100)),
        (lambda: MobileNetV3("small", 0.5), (3, 32, 32)),
        (lambda: MobileNetV3("large", 0.5, conv_dim=1), (24, 256)),
        (lambda: MobileNetV3("small", 0.75, se=False), (1, 8, 8)),
    ],
)
def test_forward_shapes_and_structured_pruning(factory, shape) -> None:
    torch.manual_seed(0)
    model = factory().build(shape, 7).eval()
    x = torch.randn(3, *shape)
    assert model(x).shape == (3, 7)
    before_params, before = _params(model), _board().cost(model, shape)
    groups = find_prune_groups(model, x[:1])
    assert groups, "residual/depthwise/SE models must still have prunable channels"
    channels = sum(g.channels for g in groups)
    removed = prune_by_fraction(model, x[:1], 0.5)
    assert abs(removed - channels / 2) <= len(groups)  # half of every group, within rounding
    after = _board().cost(model, shape)
    assert model(x).shape == (3, 7)
    assert _params(model) < 0.6 * before_params
    assert after.macs < before.macs and after.flash_bytes < before.flash_bytes


def test_residual_stream_is_one_group_in_resnet() -> None:
    model = ResNet((2, 2), 8, 1.0).build((3, 16, 16), 10).eval()
    groups = find_prune_groups(model, torch.zeros(1, 3, 16, 16))
    producers = [g.producers for g in groups]
    # stage 1's stream: the stem and both blocks' second convs meet in the residual adds
    assert ["0", "3.conv2", "4.conv2"] in producers
    # stage 2's stream: the projection shortcut and the second convs
    assert sorted(["5.conv2", "5.shortcut.0", "6.conv2"]) in [sorted(p) for p in producers]


def test_removing_dead_channels_through_depthwise_and_squeeze_excite_is_exact() -> None:
    """Expanded channels that are zero from the expand conv on contribute nothing, gate or not: removing them
    through BN, the depthwise conv, the SE gate and the projection leaves the outputs unchanged."""
    torch.manual_seed(0)
    model = MobileNetV3("small", 0.5).build((3, 32, 32), 5).eval()
    block = model[
        6
    ].block  # the 4th inverted residual: expand -> BN -> HS -> depthwise -> BN -> HS -> SE -> project -> BN
    x = torch.randn(4, 3, 32, 32)
    groups = find_prune_groups(model, x[:1])
    (group,) = [g for g in groups if "6.block.0" in g.producers]
    assert "6.block.6.fc2" in group.producers  # the SE gate multiplies these channels
    assert "6.block.3" in group.channel_modules  # the depthwise conv
    dead = [0, 3, 7]
    with torch.no_grad():
        block[0].weight[dead] = 0
        for bn in (block[1], block[4]):
            bn.bias[dead] = 0
            bn.running_mean[dead] = 0
    ref = model(x)
    remove_channels(model, group, torch.tensor([i for i in range(group.channels) if i not in dead]))
    assert block[3].groups == block[3].out_channels == group.channels
    torch.testing.assert_close(model(x), ref, rtol=1e-4, atol=1e-5)
