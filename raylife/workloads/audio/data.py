"""Audio classification data: mono waveforms at a fixed rate and length, float32 in [-1, 1].

Built in: ``keywords``, GENERATED and seeded: each class is a "word" of three tones in a class-specific
order (two classes may share tones in another order), with random pitch (±8%), timing, loudness and noise.
Telling classes apart needs the spectrum over time, as for spoken keywords. On disk: ``wavfolder``
(PATH/<class>/*.wav, the Speech Commands layout; PCM WAV, resampled and padded/cut to ``duration_s``).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from raylife.workloads.options import Classes, ClipSeconds, Count, SampleRate, Samples, Seed
from raylife.workloads.base import DataFacts, Dataset, require

TONES = [320.0, 520.0, 840.0, 1250.0, 1900.0]
WORDS = [(0, 2, 4), (4, 2, 0), (1, 3, 0), (0, 3, 1), (2, 4, 1), (1, 4, 2), (3, 0, 2), (2, 0, 3)]


def describe_keywords(samples: Samples = 2400, sample_rate: SampleRate = 8000, duration_s: ClipSeconds = 1.0,
                      classes: Classes = 8, seed: Seed = 5) -> DataFacts:
    require(2 <= classes <= len(WORDS), f"classes = {classes}", "data.options.classes", f"use 2 to {len(WORDS)}")
    return DataFacts(input_shape=(int(sample_rate * duration_s),), num_classes=classes, dtype="float32", synthetic=True,
                     source=f"generated three-tone keywords ({samples} clips, {classes} classes, {sample_rate} Hz, seed {seed})",
                     model_args={"sample_rate": sample_rate})


def load_keywords(samples: Samples = 2400, sample_rate: SampleRate = 8000, duration_s: ClipSeconds = 1.0,
                      classes: Classes = 8, seed: Seed = 5) -> Dataset:
    facts = describe_keywords(samples, sample_rate, duration_s, classes, seed)
    rng = np.random.default_rng(seed)
    length = facts.input_shape[0]
    t = np.arange(length) / sample_rate
    x = np.zeros((samples, length), dtype=np.float32)
    y = rng.integers(0, classes, size=samples).astype(np.int64)
    for i, label in enumerate(y):
        start, pitch = rng.uniform(0.0, 0.25), rng.uniform(0.92, 1.08)
        for tone in WORDS[label]:
            width = rng.uniform(0.14, 0.22)
            envelope = np.exp(-0.5 * ((t - start - width / 2) / (width / 4)) ** 2)
            frequency = TONES[tone] * pitch
            x[i] += envelope * (np.sin(2 * np.pi * frequency * t) + 0.3 * np.sin(4 * np.pi * frequency * t))
            start += width + rng.uniform(0.02, 0.08)
        x[i] = x[i] * rng.uniform(0.3, 0.9) + rng.normal(0, 0.05, length)
    return Dataset(x=np.clip(x, -1, 1), y=y, facts=facts)


def _classes(path: str) -> list[Path]:
    root = Path(path)
    require(root.is_dir(), f"data path is not a directory: {root}", "data.path", "wavfolder wants PATH/<class>/*.wav")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))  # skips _background_noise_
    require(len(folders) >= 2, f"{root} has {len(folders)} class folder(s); wavfolder needs at least 2", "data.path",
            "lay clips out as PATH/<class>/<clip>.wav")
    for folder in folders:
        require(any(folder.glob("*.wav")), f"class folder {folder} has no .wav files", "data.path", "add clips or remove the folder")
    return folders


def read_wav(file: Path, sample_rate: int, length: int) -> np.ndarray:
    """A mono float32 clip at ``sample_rate``, zero-padded or cut to ``length`` samples."""
    with wave.open(str(file), "rb") as clip:
        width, channels, rate = clip.getsampwidth(), clip.getnchannels(), clip.getframerate()
        raw = clip.readframes(clip.getnframes())
    dtypes = {1: (np.uint8, 128.0, 128.0), 2: (np.int16, 0.0, 32768.0), 4: (np.int32, 0.0, 2147483648.0)}
    require(width in dtypes, f"{file} is not 8/16/32-bit PCM (sample width {width} bytes)", "data.path", "convert the clips to PCM WAV")
    dtype, offset, scale = dtypes[width]
    audio = (np.frombuffer(raw, dtype=dtype).astype(np.float32) - offset) / scale
    audio = audio.reshape(-1, channels).mean(axis=1)
    if rate != sample_rate and len(audio):
        positions = np.arange(int(len(audio) * sample_rate / rate)) * rate / sample_rate
        audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(audio))] = audio[:length]
    return out


def describe_wavfolder(path: str, sample_rate: SampleRate = 8000, duration_s: ClipSeconds = 1.0,
                       max_per_class: Count | None = None) -> DataFacts:
    folders = _classes(path)
    first = next(folders[0].glob("*.wav"))
    try:
        read_wav(first, sample_rate, 16)
    except (wave.Error, EOFError) as exc:
        require(False, f"{first} is not a readable WAV file ({exc})", "data.path", "convert the clips to PCM WAV")
    return DataFacts(input_shape=(int(sample_rate * duration_s),), num_classes=len(folders), dtype="float32",
                     source=f"wavfolder {path} ({len(folders)} classes, {sample_rate} Hz, {duration_s} s)",
                     model_args={"sample_rate": sample_rate})


def load_wavfolder(path: str, sample_rate: SampleRate = 8000, duration_s: ClipSeconds = 1.0,
                       max_per_class: Count | None = None) -> Dataset:
    facts = describe_wavfolder(path, sample_rate, duration_s, max_per_class)
    xs, ys = [], []
    for label, folder in enumerate(_classes(path)):
        for file in sorted(folder.glob("*.wav"))[:max_per_class]:
            xs.append(read_wav(file, sample_rate, facts.input_shape[0]))
            ys.append(label)
    return Dataset(x=np.stack(xs), y=np.asarray(ys, dtype=np.int64), facts=facts)
