"""Evaluation and figure of a learner that reconstructs token ids (its ``reconstructs_tokens`` capability, e.g. the
sequence autoencoder): token NLL, perplexity, greedy decodings."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat.data.tokenize import PAD_ID, decode_ids
from deepfeat.engine.inference import collect
from deepfeat.reports.figures import save_figure
from deepfeat.reports.text_plots import text_reconstruction_table
from deepfeat.run.evaluations.autoencoder import one_class_targets
from deepfeat.run.registries import FIGURES, RunContext, evaluation


def _summary(c: np.ndarray) -> dict[str, float]:
    """Corpus-level metrics from per-text rows ``(N, 4)``: summed NLL, tokens, teacher-forced and greedy hits."""
    tokens = max(float(c[:, 1].sum()), 1.0)
    nll = float(c[:, 0].sum()) / tokens
    return {"token_nll": nll, "perplexity": math.exp(min(nll, 700.0)), "token_accuracy": float(c[:, 2].sum()) / tokens,
            "greedy_token_accuracy": float(c[:, 3].sum()) / tokens,
            "exact_match": float((c[:, 3] == c[:, 1]).mean()) if len(c) else 0.0}


@evaluation("text_reconstruction", requires=("reconstructs_tokens",), outputs={"token_nll": float, "perplexity": float, "token_accuracy": float,
                                            "greedy_token_accuracy": float, "exact_match": float,
                                            "token_nll_anomalies": float})
def text_reconstruction(ctx: RunContext) -> dict[str, Any]:
    """Token NLL, perplexity, teacher-forced and greedy token accuracy on the evaluation split's normal texts.

    In a one-class run (``data.normal_classes``) the metrics cover the classes seen in training, and
    ``token_nll_anomalies`` the others; greedy decoding runs from the code alone, as long as the input.
    """
    name, split = ctx.eval_split()
    c, y = collect(ctx.learner, split, ctx.precision, ctx.learner.token_counts, limit=ctx.max_samples)
    anomalous, normal = one_class_targets(ctx.data, y)
    keep = anomalous == 0 if anomalous is not None else np.ones(len(c), bool)
    out: dict[str, Any] = _summary(c[keep])
    if anomalous is not None:
        out["token_nll_anomalies"] = _summary(c[~keep])["token_nll"]
    out["settings"] = {"split": name, "samples": int(keep.sum()), "decoding": "greedy, as long as the input",
                       **({"normal_classes": normal} if anomalous is not None else {})}
    return out


def _examples(split: Any, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` texts of a split, as many of each class as there are (first texts where unlabelled)."""
    x, y = next(iter(split.batches(1024)))
    if y is None:
        return x[:n], None
    classes = torch.unique(y).tolist()
    idx = [i for c in classes for i in torch.nonzero(y == c).flatten()[: n // len(classes)].tolist()]
    return x[idx], y[idx]


@FIGURES.register("text_reconstructions")
def plot_text_reconstructions(ctx: RunContext, n: int = 8) -> list[Path]:
    """A figure of ``n`` texts of the evaluation split (each class where labelled) and their greedy decodings."""
    learner = ctx.learner
    name, split = ctx.eval_split()
    x, y = _examples(split, n)
    learner.eval()
    rebuilt = learner.reconstruct_tokens(ctx.precision.prepare_input(x)).cpu()
    tok, names = learner.info.tokenizer or {}, learner.info.class_names
    rows = []
    for i, (src, out) in enumerate(zip(x.tolist(), rebuilt.tolist())):
        real = [a for a in src if a != PAD_ID]
        hits = sum(a == b for a, b in zip(src, out) if a != PAD_ID)
        label = names[int(y[i])] if y is not None and names else ""
        rows.append((label, decode_ids(src, tok), decode_ids(out, tok), f"{hits}/{len(real)} tokens recovered"))
    return [save_figure(text_reconstruction_table(rows), ctx.run_dir, "text_reconstructions", title="Reconstructions",
                       section="Autoencoder",
                       caption=f"{name.capitalize()} texts and the greedy decoding of their codes (as many tokens as "
                               "the input); out-of-vocabulary words show as <unk>.")]
