"""The small networks the M2N2 specialists variant evolves (an MLP for digits and MNIST, a CNN for CIFAR-10)
and their weights on disk. Models are built on the meta device and initialised from an explicit generator, so
building one never touches torch's global RNG; weights are stored as plain .npz arrays, never pickled.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn


class SpecialistMLP(nn.Module):
    """flatten -> hidden (ReLU) -> one logit per class: the paper's digits/MNIST classifier shape."""

    def __init__(self, n_features: int, n_classes: int, hidden: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_features, hidden)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.hidden(x.flatten(1))))


class SpecialistCNN(nn.Module):
    """conv 3->16 -> pool -> conv 16->32 -> pool -> linear head: ~25k parameters on 32x32, trainable on a CPU."""

    def __init__(self, shape: Sequence[int], n_classes: int) -> None:
        super().__init__()
        channels, height, width = shape
        self.conv1 = nn.Conv2d(channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.head = nn.Linear(32 * (height // 4) * (width // 4), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))


def is_colour_image(shape: Sequence[int]) -> bool:
    """Three-channel images (CIFAR-10) get the CNN; everything else is flattened into the MLP."""
    return len(shape) == 3 and shape[0] == 3 and shape[1] >= 4 and shape[2] >= 4


def build_model(shape: Sequence[int], n_classes: int, *, hidden: int = 64,
                generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """A fresh model for samples of ``shape``; weights drawn from ``generator`` (a CPU generator).

    With ``device="meta"`` nothing is allocated or drawn: what :func:`parameter_shapes` needs to
    check a saved population costs nothing.
    """
    shape = tuple(int(s) for s in shape)
    with torch.device("meta"):
        model: nn.Module = (SpecialistCNN(shape, n_classes) if is_colour_image(shape)
                            else SpecialistMLP(math.prod(shape), n_classes, hidden))
    if torch.device(device).type == "meta":
        return model
    if generator is None:
        raise ValueError("build_model needs a torch.Generator for the weights (the global RNG is never used)")
    model = model.to_empty(device="cpu")
    init_parameters(model, generator)
    return model.to(device)


def init_parameters(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's own default initialisation of Linear and Conv2d, drawn from ``generator``."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(module.weight[0].numel())
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)


def parameter_shapes(shape: Sequence[int], n_classes: int, hidden: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in the state dict of the model :func:`build_model` would build."""
    model = build_model(shape, n_classes, hidden=hidden, device="meta")
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


# ---- weights on disk: an .npz of plain arrays, never a pickle -------------------------------------
def weight_problems(arrays: Mapping[str, np.ndarray], owners: Mapping[str, str],
                    expected: Mapping[str, tuple[int, ...]], file: str) -> list[str]:
    """What keeps ``arrays`` from holding a float32 state dict of ``expected`` shapes under each owner prefix."""
    problems = []
    for prefix, who in owners.items():
        for name, want in expected.items():
            key = f"{prefix}/{name}"
            array = arrays.get(key)
            if array is None:
                problems.append(f"{file} lacks {key} ({who})")
            elif array.dtype != np.float32 or array.shape != want:
                problems.append(f"{file}: {key} is {array.dtype} {list(array.shape)}, "
                                f"a freshly built model has float32 {list(want)}")
    extra = sorted(k for k in arrays if "/" in k and k not in {f"{p}/{n}" for p in owners for n in expected})
    if extra:
        problems.append(f"{file} has weights no member owns: {', '.join(extra[:5])}")
    return problems
