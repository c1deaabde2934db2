"""MNIST loader: shared files, corrupted copy, no files and no network; the pool split."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from kernelcollapse.datasets import _mnist as datasets

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
TEST_FILES = datasets.FILES["test"]

needs_mnist = pytest.mark.skipif(
    not all((SHARED_MNIST / name).is_file() for name in TEST_FILES),
    reason=f"shared MNIST test files not found in {SHARED_MNIST}",
)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No environment variable, an empty cache, and a downloader that cannot reach anything."""
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []

    def unreachable(url, dest):
        calls.append(url)
        raise OSError(f"network unreachable (test): {url}")

    monkeypatch.setattr(datasets, "_download", unreachable)
    return calls


@needs_mnist
def test_reads_shared_test_set(offline):
    data = datasets.mnist(SHARED_MNIST)
    assert data.images.shape == (10_000, 784)
    assert data.images.dtype == np.float64
    assert data.labels.shape == (10_000,)
    assert np.issubdtype(data.labels.dtype, np.integer)
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    # Every digit occurs (the test set has between 892 and 1135 of each class).
    counts = np.bincount(data.labels, minlength=10)
    assert counts.size == 10 and counts.min() >= 800
    # Images are mostly background: MNIST's mean intensity is about 0.13.
    assert 0.1 < data.images.mean() < 0.16
    assert offline == []  # nothing downloaded


@needs_mnist
def test_environment_variable_is_used(offline, monkeypatch):
    monkeypatch.setenv(datasets.ENV_VAR, str(SHARED_MNIST))
    assert datasets.mnist().images.shape == (10_000, 784)
    assert offline == []


@needs_mnist
def test_corrupted_copy_fails_checksum(offline, tmp_path):
    for name in TEST_FILES:
        shutil.copy(SHARED_MNIST / name, tmp_path / name)
    # Change one pixel inside a valid gzip stream: parsing would succeed, only the sum catches it.
    path = tmp_path / TEST_FILES[0]
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[1000] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(datasets.ChecksumError, match="checksum mismatch") as info:
        datasets.mnist(tmp_path)
    assert TEST_FILES[0] in str(info.value)
    assert isinstance(info.value, ValueError)


def test_no_files_no_network_is_a_clear_error(offline, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        datasets.mnist()
    message = str(info.value)
    assert datasets.ENV_VAR in message
    for name in TEST_FILES:
        assert name in message
    assert offline, "the loader should have tried the mirrors"
    with pytest.raises(FileNotFoundError, match=datasets.ENV_VAR):
        datasets.mnist(tmp_path / "empty", download=False)


def test_download_goes_to_cache_and_is_verified(offline, monkeypatch, tmp_path):
    """A mirror serving wrong bytes is rejected; the corrupt download is not left behind."""

    def wrong_bytes(url, dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"not mnist")

    monkeypatch.setattr(datasets, "_download", wrong_bytes)
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):
        datasets.mnist()
    assert not any(datasets.cache_dir().glob("*.gz"))


def test_bad_split_name():
    with pytest.raises(ValueError, match="split"):
        datasets.mnist(split="validation")


def test_split_pool_is_disjoint_and_seeded():
    x = np.arange(100.0).reshape(50, 2)
    labels = np.arange(50)
    a = datasets.split_pool(x, labels, n_pool=30, n_test=15, key=3)
    b = datasets.split_pool(x, labels, n_pool=30, n_test=15, key=3)
    c = datasets.split_pool(x, labels, n_pool=30, n_test=15, key=4)
    assert a.x_pool.shape == (30, 2) and a.x_test.shape == (15, 2)
    assert not set(a.y_pool) & set(a.y_test)
    np.testing.assert_array_equal(a.x_pool[:, 0], 2 * a.y_pool)  # rows stay paired
    np.testing.assert_array_equal(a.y_pool, b.y_pool)
    assert not np.array_equal(a.y_pool, c.y_pool)


@pytest.mark.parametrize(
    ("n_pool", "n_test", "match"),
    [(0, 5, "n_pool"), (5, -1, "n_test"), (40, 20, "at most"), (2.5, 3, "n_pool")],
)
def test_split_pool_rejects_bad_sizes(n_pool, n_test, match):
    with pytest.raises(ValueError, match=match):
        datasets.split_pool(np.zeros((50, 2)), np.zeros(50), n_pool=n_pool, n_test=n_test)


# --------------------------------------------------------------------------- data directories


@needs_mnist
def test_data_directory_holds_one_folder_per_data_set(offline, monkeypatch):
    """KERNELCOLLAPSE_DATA and data_dir name the folder holding mnist/ (and wikitext2/), as
    shared/data does; the folder holding the files themselves (the old meaning) still works."""
    root = SHARED_MNIST.parent
    monkeypatch.setenv(datasets.ENV_VAR, str(root))
    assert datasets.mnist().images.shape == (10_000, 784)
    monkeypatch.delenv(datasets.ENV_VAR)
    assert datasets.mnist(root).labels.shape == (10_000,)
    assert datasets.mnist(SHARED_MNIST).labels.shape == (10_000,)
    assert offline == []


def test_missing_files_name_the_folders_the_flag_and_the_argument(offline, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        datasets.mnist(tmp_path / "root", download=False)
    message = str(info.value)
    assert str(tmp_path / "root" / "mnist") in message and str(tmp_path / "root") in message
    assert "--data-dir" in message and "data_dir=" in message and datasets.ENV_VAR in message
    assert "\n" not in message


def test_installed_package_has_no_default_inside_the_environment(offline, monkeypatch,
                                                                 tmp_path):
    """From a wheel, <package>/../../shared/data would be inside the virtual environment: it is
    not used, and the error says where the loader looked and how to set the path."""
    from kernelcollapse._util import datapath as _datapath

    monkeypatch.setattr(_datapath, "in_checkout", lambda: False)
    assert datasets._shared_copy("test") is None
    assert datasets.mnist_dir(None) is None
    with pytest.raises(FileNotFoundError) as info:
        datasets.mnist(download=False)
    message = str(info.value)
    assert str(datasets.cache_dir()) in message and str(datasets._SHARED_DIR) not in message
    assert "--data-dir" in message and datasets.ENV_VAR in message


def test_checkout_is_recognised():
    from kernelcollapse._util import datapath as _datapath

    assert _datapath.in_checkout()  # the tests run from the source tree
    assert _datapath.shared_root() == SHARED_MNIST.parent
