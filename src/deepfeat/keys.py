"""Metric keys: one helper so every log, CSV column and report says ``"<split>/<name>"``."""

from __future__ import annotations

SPLITS = ("train", "val", "test")


def metric_key(split: str, name: str) -> str:
    """``metric_key("val", "acc") == "val/acc"``."""
    return f"{split}/{name}"


def split_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`metric_key`: ``"val/acc" -> ("val", "acc")``; ``("", key)`` without a split."""
    split, sep, name = key.partition("/")
    return (split, name) if sep else ("", key)
