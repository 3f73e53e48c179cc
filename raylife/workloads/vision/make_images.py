"""Write a learnable image folder (PATH/<class>/<n>.jpg) of any size and class count, to try the streamed
``imagefolder`` path at scale without downloading anything.

Each class is a stripe pattern — its own angle and frequency — tinted its own hue; every image draws its phase,
brightness, contrast and pixel noise at random, so a model must learn the pattern, not memorise pixels, and a small
CNN separates a few classes in an epoch or two. Seeded: the same arguments write the same files.
"""

from __future__ import annotations

import colorsys
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raylife.errors import DataError

SUFFIXES = {"jpg": ".jpg", "png": ".png"}


@dataclass(frozen=True)
class ImageFolder:
    """What ``write_image_folder`` wrote."""

    root: Path
    classes: int
    files: int
    bytes: int
    seconds: float


def decoded_size(files: int, size: int, channels: int = 3) -> int:
    """Bytes of ``files`` images decoded to float32 at size x size x channels."""
    return files * size * size * channels * 4


def _pattern(label: int, classes: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Class ``label``'s stripe direction field (size x size) and its RGB tint."""
    angle = math.pi * ((label * 0.618034) % 1.0)  # golden-ratio steps spread any number of classes over the angles
    frequency = 2.0 + (label % 3)  # stripes per image side
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    field = (math.cos(angle) * xx + math.sin(angle) * yy) * frequency * 2 * math.pi
    tint = np.asarray(colorsys.hsv_to_rgb(label / classes, 0.6, 1.0), dtype=np.float32)
    return field, tint


def write_image_folder(root: str | Path, classes: int, per_class: int, size: int = 64, seed: int = 0,
                       image_format: str = "jpg", quality: int = 90,
                       on_progress: Callable[[int, int], None] | None = None) -> ImageFolder:
    """Write ``classes`` x ``per_class`` images of ``size`` x ``size`` under ``root`` (which must be empty or new)."""
    from PIL import Image

    root = Path(root)
    if image_format not in SUFFIXES:
        raise DataError(f"image format '{image_format}'", where="--format", hint=f"use one of {', '.join(SUFFIXES)}")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DataError(f"{root} exists and is not an empty folder", where="PATH",
                        hint="name a new folder: nothing is overwritten")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    written, total, digits = 0, 0, len(str(classes - 1))
    for label in range(classes):
        folder = root / f"class_{label:0{digits}d}"
        folder.mkdir(parents=True)
        field, tint = _pattern(label, classes, size)
        for n in range(per_class):
            stripes = 0.5 + 0.5 * np.sin(field + rng.uniform(0, 2 * math.pi))
            contrast, brightness = rng.uniform(0.5, 1.0), rng.uniform(-0.15, 0.15)
            pixels = (contrast * stripes)[..., None] * tint + brightness + rng.normal(0, 0.12, (size, size, 3))
            path = folder / f"{n:06d}{SUFFIXES[image_format]}"
            Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path, quality=quality)
            total += path.stat().st_size
            written += 1
        if on_progress is not None:
            on_progress(written, classes * per_class)
    return ImageFolder(root=root, classes=classes, files=written, bytes=total, seconds=time.perf_counter() - start)
