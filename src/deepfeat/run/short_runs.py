"""Short looks at a config before a full run: a few diagnosed epochs, and the learning-rate range test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deepfeat.config import load_config
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.engine.device import resolve_device, resolve_precision
from deepfeat.engine.lr_find import LRFindResult, lr_range_test
from deepfeat.engine.seeding import seed_everything
from deepfeat.layout import new_run_dir
from deepfeat.learners.build import build_learner
from deepfeat.reports.diag_plots import save_lr_find_plot
from deepfeat.run.runs import Run, load_data
from deepfeat.run.workflow import fit


def diagnose(config: Any = None, *, out: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
             epochs: int = 3, runs_dir: str | Path = "runs") -> Run:
    """A short run (at most ``epochs``) with diagnostics and the LR check on; findings in ``results["diagnostics"]``."""
    cfg = load_config(config, overrides)
    short = [f"training.epochs={min(cfg.training.epochs or epochs, epochs)}", "diagnostics.enabled=true", "diagnostics.lr_check=true",
             f"diagnostics.every_n_steps={min(cfg.diagnostics.every_n_steps, 10)}", "evaluation.embedding_plots=[]"]
    return fit(cfg, out=out, overrides=short, runs_dir=runs_dir)


def lr_find(config: Any = None, *, out: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
            steps: int = 100, min_lr: float = 1e-7, max_lr: float = 10.0, runs_dir: str | Path = "runs") -> tuple[LRFindResult, Path]:
    """LR range test (Smith 2017) for a config's model and data; writes ``lr_find.json`` and the plot into a folder."""
    cfg = load_config(config, overrides)
    seed_everything(cfg.seed)
    data = load_data(cfg)
    learner = build_learner(cfg.learner, data.info, cfg.encoder, cfg.regularization)
    t = cfg.training.resolved(len(data.train))[0]
    precision = resolve_precision(t.precision, resolve_device(t.device), learner, t.channels_last)
    result = lr_range_test(precision.prepare_model(learner), data.train, cfg.optimizer, precision, batch_size=t.batch_size,
                           steps=steps, min_lr=min_lr, max_lr=max_lr, seed=cfg.seed)
    root = Path(out) if out else new_run_dir(Path(runs_dir), f"{cfg.name or cfg.data['name']}-lr-find")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(root / "lr_find.json", lambda tmp: Path(tmp).write_text(json.dumps(result.to_dict(), indent=2)))
    return result, save_lr_find_plot(root, result, cfg.optimizer.get("lr"))
