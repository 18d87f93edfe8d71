"""Output verification: an engine's files against the sequential loop's, byte for byte
(checksums), and image similarity for outputs not expected to be byte-identical (libvips,
the article's own loop, the JPEG draft against a full decode): PSNR and SSIM."""

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

OWN_FILES = {"manifest.csv", "failed.tsv", "metadata.csv"}  # what the workflow and pool add


def checksums(folder: Path) -> dict[str, str]:
    """The images under ``folder`` (not the workflow's own files, which bare engines do
    not write; tests/test_reruns.py checks that both commands' manifests agree)."""
    found = {}
    for path in sorted(folder.rglob("[!.]*")):
        rel = path.relative_to(folder).as_posix()
        hidden = any(part.startswith(".") for part in rel.split("/"))
        if path.is_file() and path.name not in OWN_FILES and not hidden:  # per variant too
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def differences(reference: dict[str, str], actual: dict[str, str]) -> str:
    """Empty when identical, else a short description of what differs."""
    missing = sorted(set(reference) - set(actual))
    extra = sorted(set(actual) - set(reference))
    changed = sorted(k for k in set(reference) & set(actual) if reference[k] != actual[k])
    parts = [
        f"{len(items)} {what} (e.g. {items[0]})"
        for what, items in (("missing", missing), ("unexpected", extra), ("differ", changed))
        if items
    ]
    return "; ".join(parts)


def pixels(path: str | Path, mode: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert(mode), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit data (inf when identical)."""
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _box_mean(x: np.ndarray, win: int) -> np.ndarray:
    """Mean over every win x win window (valid positions only), via summed-area tables."""
    s = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    total = s[win:, win:] - s[:-win, win:] - s[win:, :-win] + s[:-win, :-win]
    return total / (win * win)


def ssim(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """Mean structural similarity of two greyscale images: uniform 7x7 windows, sample
    covariance, K1=0.01, K2=0.03 (scikit-image's defaults for 8-bit data)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    n = win * win
    mu_a, mu_b = _box_mean(a, win), _box_mean(b, win)
    cov = n / (n - 1)
    var_a = cov * (_box_mean(a * a, win) - mu_a**2)
    var_b = cov * (_box_mean(b * b, win) - mu_b**2)
    cov_ab = cov * (_box_mean(a * b, win) - mu_a * mu_b)
    num = (2 * mu_a * mu_b + c1) * (2 * cov_ab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def similarity(reference: Path, other: Path, relpaths: Iterable[str]) -> tuple[float, float, str]:
    """Worst SSIM (luma) and worst PSNR (RGB, dB) over the images, other against reference,
    and the image with the worst SSIM."""
    worst_ssim, worst_psnr, worst_image = 1.0, float("inf"), ""
    for rel in relpaths:
        a, b = reference / rel, other / rel
        rgb_a, rgb_b = pixels(a, "RGB"), pixels(b, "RGB")
        if rgb_a.shape != rgb_b.shape:
            return float("nan"), float("nan"), rel  # another geometry: not comparable
        worst_psnr = min(worst_psnr, psnr(rgb_a, rgb_b))
        value = ssim(pixels(a, "L"), pixels(b, "L"))
        if value < worst_ssim or not worst_image:
            worst_ssim, worst_image = min(value, worst_ssim), rel
    return worst_ssim, worst_psnr, worst_image
