"""DiffusionSat's numerical metadata: what is known about an image, and the 7-number vector the models read.

The vector is ``lon, lat, gsd, cloud_cover, year, month, day``, each scaled to roughly 0..1000 exactly as the
published weights were trained (DiffusionSat's released code and paper). A field equal to 0 is the model's learned "unknown"
(training replaced each field by 0 with p = 0.1), so an unknown field here normalises to 0 and 0 reads back as
unknown. Side effect of that encoding: a cloud cover of exactly 0, lon = -180 or lat = -90 are
indistinguishable from "unknown" once normalised.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from geogen.errors import GeometryError, JobSpecError
from tiles.grid import Grid
from tiles.window import Window

FIELDS = ("lon", "lat", "gsd", "cloud_cover", "year", "month", "day")
"""Order of the normalised vector's entries."""

SCALE = 1000.0
BASE_YEAR = 1980
YEAR_SPAN = 120
EARLIEST_DATE = dt.date(BASE_YEAR + 1, 1, 1)
"""First accepted date: any date in 1980 normalises to year' = 0, which the models read as "year unknown"."""


@dataclass(frozen=True)
class Metadata:
    """What is known about one image; ``None`` means unknown.

    Attributes:
        lon: Longitude of the image centre, degrees WGS84, in [-180, 180].
        lat: Latitude of the image centre, degrees WGS84, in [-90, 90].
        gsd_m: Ground sampling distance of the image as fed to the network (after resizing), metres per pixel.
        cloud_cover: Cloud fraction in [0, 1].
        date: Acquisition date, from 1981-01-01 on (a 1980 date would encode its year as "unknown").
    """

    lon: float | None = None
    lat: float | None = None
    gsd_m: float | None = None
    cloud_cover: float | None = None
    date: dt.date | None = None

    def __post_init__(self) -> None:
        if self.lon is not None and not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise GeometryError(f"Longitude must be within [-180, 180] degrees, got {self.lon}")
        if self.lat is not None and not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise GeometryError(f"Latitude must be within [-90, 90] degrees, got {self.lat}")
        if self.gsd_m is not None and not (math.isfinite(self.gsd_m) and self.gsd_m > 0):
            raise GeometryError(f"GSD must be a positive number of metres per pixel, got {self.gsd_m}")
        if self.cloud_cover is not None and not (
            math.isfinite(self.cloud_cover) and 0.0 <= self.cloud_cover <= 1.0
        ):
            raise JobSpecError(f"Cloud cover must be a fraction within [0, 1], got {self.cloud_cover}")
        if self.date is not None:
            if isinstance(self.date, dt.datetime):
                object.__setattr__(self, "date", self.date.date())
            elif not isinstance(self.date, dt.date):
                raise JobSpecError(f"Date must be a datetime.date, got {self.date!r}")
            if self.date < EARLIEST_DATE:
                raise JobSpecError(
                    f"Date must be on or after {EARLIEST_DATE}: DiffusionSat counts years from 1980 and "
                    f"reads year 1980 as 'unknown'; got {self.date}"
                )

    def normalize(self) -> np.ndarray:
        """The (7,) float32 vector the DiffusionSat models take; unknown fields are 0.

        Computed in float64 and rounded once to float32. Keep it float32 on the model side: float16 rounds
        e.g. 925.88 to 926 before the sinusoidal projection.
        """
        vec = np.zeros(len(FIELDS), dtype=np.float64)
        if self.lon is not None:
            vec[0] = (self.lon + 180.0) / 360.0 * SCALE
        if self.lat is not None:
            vec[1] = (self.lat + 90.0) / 180.0 * SCALE
        if self.gsd_m is not None:
            vec[2] = self.gsd_m * SCALE
        if self.cloud_cover is not None:
            vec[3] = self.cloud_cover * SCALE
        if self.date is not None:
            vec[4] = (self.date.year - BASE_YEAR) / YEAR_SPAN * SCALE
            vec[5] = self.date.month / 12.0 * SCALE
            vec[6] = self.date.day / 31.0 * SCALE
        return vec.astype(np.float32)

    @classmethod
    def denormalize(cls, vec: np.ndarray | list[float] | tuple[float, ...]) -> Metadata:
        """The metadata a normalised vector encodes; 0 entries read back as unknown.

        The date is known only when year, month and day are all non-zero (the models drop each independently).

        Raises:
            JobSpecError: The vector does not have 7 finite entries or encodes an impossible date.
            GeometryError: It encodes an out-of-range longitude, latitude or GSD.
        """
        arr = np.asarray(vec, dtype=np.float64).reshape(-1)
        if arr.shape != (len(FIELDS),) or not np.all(np.isfinite(arr)):
            raise JobSpecError(
                f"A metadata vector has 7 finite entries {FIELDS}, got {np.asarray(vec).tolist()}"
            )

        def known(i: int) -> float | None:
            return None if arr[i] == 0 else float(arr[i])

        lon, lat, gsd, cloud = known(0), known(1), known(2), known(3)
        date = None
        if arr[4] != 0 and arr[5] != 0 and arr[6] != 0:
            year = BASE_YEAR + round(arr[4] / SCALE * YEAR_SPAN)
            month = round(arr[5] / SCALE * 12)
            day = round(arr[6] / SCALE * 31)
            try:
                date = dt.date(year, month, day)
            except ValueError as exc:
                raise JobSpecError(
                    f"Metadata vector {arr.tolist()} encodes an impossible date {year}-{month}-{day}"
                ) from exc
        return cls(
            lon=None if lon is None else lon / SCALE * 360.0 - 180.0,
            lat=None if lat is None else lat / SCALE * 180.0 - 90.0,
            gsd_m=None if gsd is None else gsd / SCALE,
            cloud_cover=None if cloud is None else cloud / SCALE,
            date=date,
        )

    @classmethod
    def from_grid(
        cls,
        grid: Grid,
        date: dt.date | None = None,
        cloud_cover: float | None = None,
        *,
        window: Window | None = None,
    ) -> Metadata:
        """Metadata of the image on ``grid`` (or on its ``window``): centre in WGS84 and ground GSD in metres.

        The GSD is the pixel size converted to metres by the CRS's linear unit and divided by the projection's
        local linear scale at the centre, so Web Mercator pixels report their true ground size (x cos(lat)).
        Non-square pixels use the mean of the two sizes.

        Raises:
            GeometryError: The CRS is geographic (degrees) or unreadable, or the centre has no WGS84 position.
        """
        from pyproj import CRS, Proj, Transformer
        from pyproj.exceptions import CRSError

        try:
            crs = CRS.from_user_input(grid.crs)
        except CRSError as exc:
            raise GeometryError(f"Cannot read the grid's CRS {grid.crs!r}: {exc}") from exc
        if crs.is_geographic or not crs.is_projected:
            raise GeometryError(
                "Metadata needs a grid in a projected, metric CRS to measure GSD in metres; "
                f"got {crs.name!r}. "
                "Reproject the area of interest (e.g. to its UTM zone) first."
            )
        sub = grid if window is None else grid[window]
        x, y = sub.centre()
        lon, lat = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True).transform(x, y)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise GeometryError(f"The grid centre ({x}, {y}) in {crs.name!r} has no position in WGS84")
        unit_m = crs.axis_info[0].unit_conversion_factor
        factors = Proj(crs).get_factors(lon, lat)
        local_scale = math.sqrt(factors.areal_scale)
        if not (math.isfinite(local_scale) and local_scale > 0):
            raise GeometryError(f"The projection {crs.name!r} has no usable scale at lon {lon}, lat {lat}")
        gsd_m = (sub.res[0] + sub.res[1]) / 2.0 * unit_m / local_scale
        return cls(lon=lon, lat=lat, gsd_m=gsd_m, cloud_cover=cloud_cover, date=date)
