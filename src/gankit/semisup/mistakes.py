"""What a classifier gets wrong on the test set: a confusion matrix and the misclassified images, as one picture."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor


def confusion_matrix(y_true: Tensor, y_pred: Tensor, num_classes: int) -> Tensor:
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    flat = y_true.long().cpu() * num_classes + y_pred.long().cpu()
    return torch.bincount(flat, minlength=num_classes ** 2).view(num_classes, num_classes)


def save_mistakes(images: Tensor, y_true: Tensor, y_pred: Tensor, class_names: list[str], path: Path,
                  shown: int = 40) -> Tensor:
    """Draw the confusion matrix beside the first ``shown`` misclassified images; return the matrix.

    images: (N, H, W) in [0, 1]. Each image is titled "true -> predicted".
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(class_names)
    matrix = confusion_matrix(y_true, y_pred, k)
    wrong = (y_true.cpu() != y_pred.cpu()).nonzero().flatten()[:shown]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig = plt.figure(figsize=(12, max(4.5, 1.3 * rows)))
    grid = fig.add_gridspec(rows, cols + 6)
    ax = fig.add_subplot(grid[:, :5])
    # off the diagonal only: the correct counts (about 1,000 each) would wash out the mistakes
    off = matrix.clone().fill_diagonal_(0)
    ax.imshow(off, cmap="Reds")
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                        color="gray" if i == j else "black")
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted", ylabel="true",
           title=f"{int(off.sum())} errors in {len(y_true)} test images")
    ax.set_xticklabels(class_names, rotation=90, fontsize=7)
    ax.set_yticklabels(class_names, fontsize=7)
    for n, idx in enumerate(wrong.tolist()):
        cell = fig.add_subplot(grid[n // cols, 6 + n % cols])
        cell.imshow(images[idx].cpu(), cmap="gray", vmin=0, vmax=1)
        cell.set_title(f"{class_names[int(y_true[idx])]}→{class_names[int(y_pred[idx])]}", fontsize=7)
        cell.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return matrix
