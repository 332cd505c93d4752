"""The MNIST classifier whose penultimate layer is the feature space of FID, KID and PR.

A small convolutional net, trained by ``gankit train-classifier`` and shipped inside the
package (``gankit/weights/mnist_classifier.safetensors``), so that every gankit user measures
MNIST samples in the same feature space. Weights are read with safetensors, never unpickled.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from gankit.errors import CheckpointError
from gankit.io.atomic import atomic_path, write_text_atomic

WEIGHTS_FILE = "mnist_classifier.safetensors"
FEATURE_DIM = 128


class MnistClassifier(nn.Module):
    """Three 3x3 conv blocks (16, 32, 64 channels, each batch norm, ReLU, 2x2 max pool),
    then 128 features and 10 logits.

    Narrow on purpose, to train in minutes on one idle CPU core; the shipped weights (8 epochs)
    reach 99.54% test accuracy (see gankit/weights/mnist_classifier.json).
    """

    def __init__(self) -> None:
        super().__init__()
        chans = (1, 16, 32, 64)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b),
                          nn.ReLU(), nn.MaxPool2d(2))
            for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.fc = nn.Linear(64 * 3 * 3, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer (after ReLU): (N, 128)."""
        for block in self.blocks:
            x = block(x)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)))

    def logits_from_features(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(f)


def shipped_weights_path() -> Path:
    return Path(str(resources.files("gankit.weights").joinpath(WEIGHTS_FILE)))


def file_digest(path: str | Path) -> str:
    """SHA-256 of a weights file: recorded in every evaluation so results name their features."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_classifier(path: str | Path | None = None, device: str | torch.device = "cpu"
                    ) -> MnistClassifier:
    """The shipped classifier (or the one at ``path``), in eval mode."""
    path = Path(path) if path else shipped_weights_path()
    if not path.exists():
        raise CheckpointError(f"classifier weights {path} not found; train them with "
                              "`gankit train-classifier --out PATH`")
    net = MnistClassifier()
    try:
        net.load_state_dict(load_file(str(path)))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise CheckpointError(f"classifier weights {path} are damaged or of another network "
                              f"({str(exc).splitlines()[0]})") from None
    return net.to(device).eval()


@dataclass
class ClassifierReport:
    path: Path
    valid_accuracy: float
    test_accuracy: float
    best_epoch: int
    seconds: float


def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 1000) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            pred = net(images[i:i + batch_size]).argmax(1)
            correct += int((pred == labels[i:i + batch_size]).sum())
    return correct / len(images)


def _shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translation by up to ``max_shift`` pixels (one shift per batch keeps it cheap)."""
    dx, dy = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=gen))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def train_classifier(out: str | Path, epochs: int = 8, seed: int = 0, batch_size: int = 128,
                     lr: float = 4e-3, data_dir: str | Path | None = None,
                     progress: bool = True) -> ClassifierReport:
    """Train on the paper's 50,000 training images, keep the epoch best on validation.

    Adam with a one-cycle learning rate; the chosen weights are written atomically as
    safetensors beside a JSON card (seed, epochs, accuracies, command to reproduce).
    """
    from gankit.data import load_dataset

    torch.manual_seed(seed)
    train = load_dataset("mnist", "train", data_dir)
    valid = load_dataset("mnist", "valid", data_dir)
    test = load_dataset("mnist", "test", data_dir)
    net = MnistClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * (len(train) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, best_epoch = -1.0, None, 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(train), generator=gen)
        n_batches = len(train) // batch_size
        bar = tqdm(range(n_batches), desc=f"classifier epoch {epoch}", leave=False,
                   disable=None if progress else True)
        for b in bar:
            idx = order[b * batch_size:(b + 1) * batch_size]
            x = _shift(train.images[idx], gen)
            loss = F.cross_entropy(net(x), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = accuracy(net, valid.images, valid.labels)
        if progress:
            tqdm.write(f"epoch {epoch}: validation accuracy {acc:.4f}")
        if acc > best:
            best, best_epoch = acc, epoch
            best_state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    assert best_state is not None
    net.load_state_dict(best_state)
    test_acc = accuracy(net, test.images, test.labels)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file(best_state, str(tmp), metadata={"seed": str(seed), "epochs": str(epochs)})
    seconds = time.perf_counter() - start
    card = {"seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "best_epoch": best_epoch, "valid_accuracy": best, "test_accuracy": test_acc,
            "seconds": round(seconds, 1), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "sha256": file_digest(out),
            "command": f"gankit train-classifier --out {out.name} --epochs {epochs} "
                       f"--seed {seed}"}
    write_text_atomic(out.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    return ClassifierReport(out, best, test_acc, best_epoch, seconds)
