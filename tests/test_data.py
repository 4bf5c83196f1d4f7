"""Reading IMDB from a folder, an archive, or the real copy; safe extraction."""

import io
import pathlib
import tarfile

import numpy as np
import pytest

from core import data


def test_folder_is_read_balanced_with_ratings(tiny_imdb_folder):
    imdb = data.load_local(tiny_imdb_folder)
    assert len(imdb.train) == 160 and len(imdb.test) == 160
    assert imdb.train.labels.sum() == 80
    positives = imdb.train.ratings[imdb.train.labels == 1]
    negatives = imdb.train.ratings[imdb.train.labels == 0]
    assert positives.min() >= 7 and negatives.max() <= 4


def test_archive_gives_the_same_reviews_as_the_folder(
    tiny_imdb_folder, tiny_imdb_archive
):
    from_folder = data.load_local(tiny_imdb_folder)
    from_archive = data.load_local(tiny_imdb_archive)
    assert list(from_archive.train.texts) == list(from_folder.train.texts)
    np.testing.assert_array_equal(from_archive.test.labels, from_folder.test.labels)
    # The second load reuses the extracted copy.
    again = data.load_local(tiny_imdb_archive)
    assert list(again.test.texts) == list(from_folder.test.texts)


def _archive_with(tmp_path: pathlib.Path, member: tarfile.TarInfo, payload=b"x"):
    archive = tmp_path / "hostile.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        ok = tarfile.TarInfo("aclImdb/README")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        member.size = len(payload) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(payload) if member.isfile() else None)
    return archive


def test_member_escaping_the_target_is_refused(tmp_path):
    archive = _archive_with(tmp_path, tarfile.TarInfo("aclImdb/../../evil.txt"))
    target = tmp_path / "target"
    with pytest.raises(ValueError, match="evil.txt.*outside the target folder"):
        data.safe_extract(archive, target)
    assert not (tmp_path / "evil.txt").exists()
    assert not target.exists()


def test_absolute_and_link_members_are_refused(tmp_path):
    absolute = _archive_with(tmp_path, tarfile.TarInfo("/tmp/evil.txt"))
    with pytest.raises(ValueError, match="absolute"):
        data.safe_extract(absolute, tmp_path / "a")
    link = tarfile.TarInfo("aclImdb/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    linked = _archive_with(tmp_path, link)
    with pytest.raises(ValueError, match="link"):
        data.safe_extract(linked, tmp_path / "b")


def test_hostile_archive_through_the_loader_leaves_no_cache(tmp_path, monkeypatch):
    archive = _archive_with(tmp_path, tarfile.TarInfo("../evil.txt"))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="unsafe"):
        data.load_local(archive, cache_dir=cache)
    assert not (tmp_path / "evil.txt").exists()
    assert list(cache.iterdir()) == []


def test_missing_data_says_how_to_point_at_a_copy(tmp_path):
    with pytest.raises(data.DataUnavailableError, match="GRU_LAB_DATA"):
        data.load_local(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataUnavailableError, match="train/ and test/"):
        data.load_local(tmp_path / "empty")


def test_source_setting_order(monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    assert data.configured_source() == data.TFDS_SOURCE
    monkeypatch.setenv(data.DATA_ENV, "/some/copy")
    assert data.configured_source() == "/some/copy"
    assert data.configured_source("/explicit") == "/explicit"


def test_split_is_seeded_balanced_and_disjoint():
    labels = np.array([0, 1] * 500, dtype=np.int8)
    fit, validation = data.split_indices(labels, 400, 0.25, seed=7)
    again_fit, again_validation = data.split_indices(labels, 400, 0.25, seed=7)
    np.testing.assert_array_equal(fit, again_fit)
    np.testing.assert_array_equal(validation, again_validation)
    assert len(fit) == 300 and len(validation) == 100
    assert labels[fit].mean() == 0.5 and labels[validation].mean() == 0.5
    assert not set(fit) & set(validation)
    other_fit, _ = data.split_indices(labels, 400, 0.25, seed=8)
    assert set(other_fit) != set(fit)


def test_balanced_sample_refuses_more_than_exists():
    labels = np.array([0, 1, 1, 1])
    with pytest.raises(ValueError, match="balanced"):
        data.balanced_indices(labels, 4, seed=0)


@pytest.mark.slow
def test_the_real_archive_has_25000_and_25000_balanced(shared_archive):
    imdb = data.load_local(shared_archive)
    assert len(imdb.train) == 25_000 and len(imdb.test) == 25_000
    assert imdb.train.labels.sum() == 12_500 and imdb.test.labels.sum() == 12_500
    assert set(np.unique(imdb.test.ratings)) == {1, 2, 3, 4, 7, 8, 9, 10}
