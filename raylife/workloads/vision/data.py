"""Image data sources, all in NHWC float32 scaled to [0, 1].

Built in: ``digits`` (scikit-learn's bundled handwritten digits, real, no download; ``size`` and ``channels``
options resize them for architectures that need larger inputs). On disk: ``imagefolder`` (one folder per
class, like ImageNet's layout) and ``cifar10`` (the CIFAR-10 "python version" batches).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Annotated, Literal

import numpy as np

from pydantic import Field

from raylife.workloads.options import Count
from raylife.workloads.base import DataFacts, Dataset, require

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
DIGITS_SOURCE = "sklearn.datasets.load_digits (UCI ML hand-written digits, 1797 real 8x8 images)"


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of NHWC images to size x size (scipy ships with scikit-learn)."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    from scipy.ndimage import zoom

    factors = (1, size / images.shape[1], size / images.shape[2], 1)
    return np.clip(zoom(images, factors, order=1), 0.0, 1.0).astype(np.float32)


def _channels(images: np.ndarray, channels: int) -> np.ndarray:
    if images.shape[-1] == channels:
        return images
    if images.shape[-1] == 1:
        return np.repeat(images, channels, axis=-1)
    if channels == 1:
        return images.mean(axis=-1, keepdims=True).astype(np.float32)
    raise ValueError(f"cannot turn {images.shape[-1]} channels into {channels}")


def describe_digits(size: Annotated[int, Field(ge=8, le=512)] = 8, channels: Literal[1, 3] = 1) -> DataFacts:
    require(size >= 8, f"digits size = {size} is too small", "data.options.size", "use 8 (native) or larger")
    require(channels in (1, 3), f"digits channels = {channels}", "data.options.channels", "use 1 or 3")
    source = DIGITS_SOURCE + (f", resized to {size}x{size}" if size != 8 else "") + (", 3 channels" if channels == 3 else "")
    return DataFacts(input_shape=(size, size, channels), num_classes=10, dtype="float32", source=source)


def load_digits(size: Annotated[int, Field(ge=8, le=512)] = 8, channels: Literal[1, 3] = 1) -> Dataset:
    from sklearn.datasets import load_digits as sk_load_digits

    facts = describe_digits(size, channels)
    bunch = sk_load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., np.newaxis]
    return Dataset(x=_channels(_resize(x, size), channels), y=bunch.target.astype(np.int64), facts=facts)


def _class_folders(path: str) -> list[Path]:
    root = Path(path)
    require(root.exists(), f"data path does not exist: {root}", "data.path", "check the path (relative paths start at the suite file)")
    require(root.is_dir(), f"data path is not a directory: {root}", "data.path", "imagefolder wants a directory with one folder per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    require(len(folders) >= 2, f"{root} has {len(folders)} class folder(s); imagefolder needs one folder per class, at least 2",
            "data.path", "lay images out as PATH/<class>/<image>.png")
    return folders


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _strays_in(folder: Path) -> list[Path]:
    """Files in a class folder that are not images by their suffix (a README, a .DS_Store): never decoded."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES)


OnBadFile = Literal["fail", "skip"]


def describe_imagefolder(path: str, size: Annotated[int, Field(ge=4, le=1024)] = 32, channels: Literal[1, 3] = 3,
                         max_per_class: Count | None = None, on_bad_file: OnBadFile = "fail") -> DataFacts:
    folders = _class_folders(path)
    for folder in folders:
        require(bool(_images_in(folder)), f"class folder {folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})",
                "data.path", "remove the empty folder or add images")
    return DataFacts(input_shape=(size, size, channels), num_classes=len(folders), dtype="float32",
                     source=f"imagefolder {path} ({len(folders)} classes, resized to {size}x{size})")


def load_imagefolder(path: str, size: Annotated[int, Field(ge=4, le=1024)] = 32, channels: Literal[1, 3] = 3,
                     max_per_class: Count | None = None, on_bad_file: OnBadFile = "fail") -> Dataset:
    from raylife.workloads.streamed import BadFile, bad_file_error, decode_image

    facts = describe_imagefolder(path, size, channels, max_per_class)
    mode = "RGB" if channels == 3 else "L"
    xs, ys = [], []
    for label, folder in enumerate(_class_folders(path)):
        for file in _images_in(folder)[:max_per_class]:
            try:
                xs.append(decode_image(file.read_bytes(), size, mode, channels).astype(np.float32) / 255.0)
            except Exception as exc:  # noqa: BLE001 - PIL raises OSError, ValueError, SyntaxError… for bad files
                if on_bad_file == "fail":
                    raise bad_file_error(BadFile(str(file), f"{type(exc).__name__}: {exc}")) from None
                continue
            ys.append(label)
    return Dataset(x=np.stack(xs), y=np.asarray(ys, dtype=np.int64), facts=facts)


def stream_imagefolder(path: str, seed: int, size: Annotated[int, Field(ge=4, le=1024)] = 32,
                       channels: Literal[1, 3] = 3, max_per_class: Count | None = None, on_bad_file: OnBadFile = "fail"):
    """The folder as file splits streamed through Ray Data (``workloads.streamed``): listing only, nothing decoded."""
    from raylife.workloads.streamed import FileSplits, ImageReader

    facts = describe_imagefolder(path, size, channels, max_per_class)
    folders = _class_folders(path)
    paths, labels, strays = [], [], []
    for label, folder in enumerate(folders):
        files = _images_in(folder)[:max_per_class]
        paths.extend(str(f.resolve()) for f in files)
        labels.extend([label] * len(files))
        strays.extend(str(f.resolve()) for f in _strays_in(folder))
    reader = ImageReader(size=size, channels=channels, classes=tuple(f.name for f in folders), on_bad_file=on_bad_file)
    return FileSplits.split(paths, np.asarray(labels, dtype=np.int64), facts, reader, seed, ignored=tuple(strays))


CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _cifar_files(path: str) -> list[Path]:
    root = Path(path)
    require(root.exists(), f"data path does not exist: {root}", "data.path", "point it at the cifar-10-batches-py directory")
    found = [root / name for name in CIFAR_BATCHES if (root / name).is_file()]
    require(bool(found), f"{root} holds none of the CIFAR-10 python batches ({', '.join(CIFAR_BATCHES)})",
            "data.path", "download the 'python version' of CIFAR-10 and point data.path at cifar-10-batches-py")
    return found


def describe_cifar10(path: str, max_samples: Count | None = None) -> DataFacts:
    files = _cifar_files(path)
    return DataFacts(input_shape=(32, 32, 3), num_classes=10, dtype="float32",
                     source=f"CIFAR-10 python batches in {path} ({', '.join(f.name for f in files)})")


def load_cifar10(path: str, max_samples: Count | None = None) -> Dataset:
    facts = describe_cifar10(path, max_samples)
    xs, ys = [], []
    for file in _cifar_files(path):
        with open(file, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    x, y = np.concatenate(xs)[:max_samples], np.concatenate(ys)[:max_samples]
    return Dataset(x=x.astype(np.float32) / 255.0, y=y, facts=facts)
