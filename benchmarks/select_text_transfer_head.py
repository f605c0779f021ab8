"""Which transfer head start suits text? Validation only: SMS Spam, MiniLM fine-tuned with bench_text.py's recipe.

1,000 texts of the training split (seeded) are held out for validation; labelled subsets of 10 and 50 per class
are drawn from the other 3,459 (draws 1-3; bench_text.py's own draw is 0); the test split is never read. Compares
the ``transfer`` default (``head_init: probe``: the head starts as the converged linear probe) with the older
recipe (``head_init: random``, ``head_epochs: 1``).

    python benchmarks/select_text_transfer_head.py      # ~6 min on 2 quiet cores
"""

from __future__ import annotations

import numpy as np
import torch

import bench_text as bt
from _common import table, write_result
from deepfeat.data.splits import DataBundle, TensorSplit
from deepfeat.run.evaluations.low_label import draw_per_class

VARIANTS = {
    "probe": {"name": "transfer", "mode": "fine_tune"},
    "random_head_epochs_1": {"name": "transfer", "mode": "fine_tune", "head_init": "random", "head_epochs": 1},
}


def main() -> None:
    torch.set_num_threads(2)
    raw = bt.raw_split(None)
    bundles, _ = bt.load_bundles(None, raw.y_train)
    data, y = bundles["minilm_finetune"], raw.y_train
    perm = np.random.default_rng(123).permutation(len(y))
    val_idx, pool = perm[:1000], perm[1000:]
    val, order = bt.by_length(TensorSplit(data.train.x[torch.from_numpy(val_idx)], data.train.y[torch.from_numpy(val_idx)]))
    spam = raw.class_names.index("spam")
    rows = []
    for k in (10, 50):
        for draw in (1, 2, 3):
            labelled = torch.from_numpy(pool[draw_per_class(y[pool], k, np.random.default_rng([draw, k]))])
            subset = DataBundle(data.info, TensorSplit(data.train.x[labelled], data.train.y[labelled]))
            for name, learner in VARIANTS.items():
                probs = bt.train_network("minilm_finetune", data, subset, val, learner_spec=learner)
                out = np.empty_like(probs)
                out[order] = probs
                rows.append({"labels/class": k, "draw": draw, "head": name, **bt.scores(out, y[val_idx], spam)})
                print(rows[-1], flush=True)
    means = []
    for k in (10, 50):
        for name in VARIANTS:
            sel = [r for r in rows if r["labels/class"] == k and r["head"] == name]
            means.append({"labels/class": k, "head": name,
                          **{m: round(float(np.mean([r[m] for r in sel])), 4) for m in ("accuracy", "spam_f1", "roc_auc")}})
    print(table(means, list(means[0])))
    print(f"written: {write_result('text_transfer_head_selection', {'rows': rows, 'means': means})}")


if __name__ == "__main__":
    main()
