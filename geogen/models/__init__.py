"""geogen.models: DiffusionSat's networks on stock diffusers classes, and checked checkpoint loading."""

from geogen.models.sat_controlnet import SatControlNetModel
from geogen.models.sat_controlnet_3d import SatControlNetModel3D
from geogen.models.sat_unet import SatUNet

__all__ = ["SatControlNetModel", "SatControlNetModel3D", "SatUNet"]
