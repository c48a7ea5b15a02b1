"""Cloud bands recognised by description; cloud fractions of the real Slovenian series; the cloud_max rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from geogen.io.raster import read_grid
from geogen.timeseries.clouds import cloud_fraction, cloudiness, find_cloud_band, too_cloudy
from geogen.timeseries.coregister import coregister


def test_the_slovenian_cloud_probability_band_is_found(slovenia_series: list[Path]) -> None:
    with rasterio.open(slovenia_series[0]) as ds:
        band = find_cloud_band(ds)
    assert band is not None
    assert (band.index, band.kind) == (14, "probability")
    assert "s2cloudless" in band.description


@pytest.mark.parametrize(("index", "cloudy"), [(0, False), (1, True), (2, True), (3, False)])
def test_cloud_fraction_of_the_real_series(slovenia_series: list[Path], index: int, cloudy: bool) -> None:
    """PROVENANCE.md: 07-11 and 08-30 clear (mean CLP 0.01, 0.02), 07-31 and 08-20 cloudy (0.74, 0.97)."""
    path = slovenia_series[index]
    frame = coregister(path, read_grid(path))
    assert frame.cloud is not None and frame.exact
    fraction = cloud_fraction(frame.cloud, frame.valid)
    assert fraction is not None
    assert (fraction > 0.9) if cloudy else (fraction == 0.0)
    assert too_cloudy(fraction, 0.2) is cloudy


def test_cloudiness_kinds() -> None:
    np.testing.assert_allclose(cloudiness(np.array([0.0, 0.5, 1.0]), "probability"), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(cloudiness(np.array([0.0, 40.0, 100.0]), "probability"), [0.0, 0.4, 1.0])
    np.testing.assert_array_equal(cloudiness(np.array([4, 8, 9, 10, 3]), "scl"), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(cloudiness(np.array([0, 1 << 10, 1 << 11, 1 << 5]), "qa60"), [0, 1, 1, 0])
    np.testing.assert_array_equal(cloudiness(np.array([0, 1, 255]), "mask"), [0, 1, 1])
    assert np.isnan(cloudiness(np.array([np.nan]), "scl")[0])


def test_fraction_counts_only_valid_pixels() -> None:
    cloud = np.array([[0.9, 0.9], [0.1, np.nan]], np.float32)
    valid = np.array([[True, False], [True, True]])
    assert cloud_fraction(cloud, valid) == 0.5
    assert cloud_fraction(cloud, np.zeros((2, 2), bool)) is None


def test_unknown_cover_never_excludes() -> None:
    assert not too_cloudy(None, 0.0)
    assert not too_cloudy(0.9, None)
    assert too_cloudy(0.21, 0.2) and not too_cloudy(0.2, 0.2)
