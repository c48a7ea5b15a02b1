"""A small residual CNN, trained on the scene itself, that refines the classical sharpening of the 20 m bands.

No weights ship or download: ``fit`` degrades the scene by 2 with the sensor model (Wald's protocol one scale
down: 10 m guides -> 20 m, 20 m bands -> 40 m), sharpens that with the classical engine, and trains the
network to predict what the classical result misses (the real 20 m band minus the classical 20 m estimate)
from the guides and the classical estimate. At full resolution the same network adds its correction to the
classical 10 m estimate, and the consistency projection is applied again. 60 m bands stay classical (too few
pixels to learn from at one scale further down).

Deterministic for a given ``seed`` and thread count; trains on at most ``train_size`` x ``train_size`` fine
pixels from the scene centre, so memory stays bounded on full tiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from affine import Affine
from torch import nn

from geogen.engines.base import Progress
from geogen.engines.sharpen.classical import ClassicalSharpener
from geogen.engines.sharpen.options import CNNOptions
from geogen.engines.sharpen.scene import fill_invalid, fill_radius, lcm, read_guides
from geogen.errors import EngineError
from geogen.io.sentinel2 import S2Stack
from geogen.sensors.mtf import consistency_support, degrade, project_consistent
from tiles import Grid, Window

_RESIDUAL_SCALE = 0.01  # reflectance; the network's outputs are residuals in these units
_FACTOR = 2


class ResidualCNN(nn.Module):
    """conv -> ``blocks`` x (conv, ReLU, conv, scaled skip) -> conv; the last layer starts at zero."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int = 6, channels: int = 48) -> None:
        super().__init__()
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(channels, channels, 3, padding=1),
            )
            for _ in range(blocks)
        )
        self.tail = nn.Conv2d(channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)  # type: ignore[arg-type]  # a Conv2d made with bias=True has one

    @property
    def radius(self) -> int:
        """Receptive-field radius in pixels (one per 3 x 3 convolution)."""
        return 2 + 2 * len(self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.head(x))
        for block in self.blocks:
            y = y + 0.1 * block(y)
        return self.tail(y)


class CNNSharpener(ClassicalSharpener):
    """The numerical core of "sharpen-cnn": classical HPM + consistency, then a scene-trained CNN correction
    (20 m bands)."""

    def __init__(self, options: CNNOptions | None = None, seed: int = 0) -> None:
        super().__init__("hpm", consistency=True)
        opts = options if options is not None else CNNOptions()
        self.seed = int(seed)
        self.iterations = opts.iterations
        self.n_blocks = opts.blocks
        self.channels = opts.channels
        self.patch = opts.patch
        self.batch = opts.batch
        self.train_size = opts.train_size
        self.lr = float(opts.lr)
        self.net: ResidualCNN | None = None
        self.targets: list[str] = []
        self._norm: tuple[np.ndarray, np.ndarray] | None = None
        self.final_loss: float | None = None

    # --- training ------------------------------------------------------------------------------------------
    def fit(self, stack: S2Stack, bands: Sequence[str], progress: Progress | None = None) -> None:
        """Classical statistics of the scene, then the network trained on the scene one scale down."""
        super().fit(stack, bands)
        self.targets = [b for b in bands if stack.factor(b) == _FACTOR]
        self.net = None
        if not self.targets:
            return
        guides, classical, truth, valid = self._training_set(stack)
        inputs = np.concatenate([guides, classical])
        mean = inputs.mean(axis=(1, 2), keepdims=True)
        std = np.maximum(inputs.std(axis=(1, 2), keepdims=True), 1e-6)
        self._norm = (mean.astype(np.float32), std.astype(np.float32))
        x = torch.from_numpy(((inputs - mean) / std).astype(np.float32))
        y = torch.from_numpy(((truth - classical) / _RESIDUAL_SCALE).astype(np.float32))
        m = torch.from_numpy(valid.astype(np.float32))[None]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = ResidualCNN(x.shape[0], y.shape[0], self.n_blocks, self.channels)
        self.final_loss = self._train(net, x, y, m, progress)
        self.net = net.eval()

    def _training_set(self, stack: S2Stack) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(guides, classical estimate, true band, valid) at the 20 m grid of a central crop degraded by 2."""
        align = lcm([stack.factor(b) for b in stack.bands] + [2 * _FACTOR])
        rows, cols = stack.grid.shape
        h = min(rows, self.train_size) // align * align
        w = min(cols, self.train_size) // align * align
        if h < 4 * align or w < 4 * align:
            raise EngineError(
                f"sharpen-cnn needs a scene of at least {4 * align} x {4 * align} 10 m pixels "
                f"to train on, got {cols} x {rows}"
            )
        crop = Window((cols - w) // 2 // align * align, (rows - h) // 2 // align * align, w, h)
        guides, gvalid = read_guides(stack, self.guides, crop, self.models)
        coarse = {self.guides[i]: degrade(guides[i], _FACTOR) for i in range(len(self.guides))}
        truth, valid = [], degrade(gvalid.astype(np.float32), _FACTOR) > 1 - 1e-4
        for b in self.targets:
            data, v = stack.read(b, crop)
            filled = fill_invalid(data, v, self.models[b].mean)
            truth.append(filled)
            coarse[b] = degrade(filled, _FACTOR)
            valid &= v
        grid = Grid(w // _FACTOR, h // _FACTOR, Affine.scale(1.0, -1.0), stack.grid.crs)
        small = S2Stack.from_arrays(coarse, grid, source="training level")
        teacher = ClassicalSharpener("hpm", True, self.consistency_reg)
        teacher.fit(small, self.targets)
        classical, _ = teacher.sharpen(small, small.grid.full_window, self.targets)
        return np.stack([coarse[g] for g in self.guides]), classical, np.stack(truth), valid

    def _train(
        self, net: ResidualCNN, x: torch.Tensor, y: torch.Tensor, m: torch.Tensor, progress: Progress | None
    ) -> float:
        h, w = x.shape[-2:]
        ph, pw = min(self.patch, h), min(self.patch, w)
        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.iterations)
        loss_value = float("nan")
        net.train()
        for it in range(self.iterations):
            rs = torch.randint(0, h - ph + 1, (self.batch,), generator=gen).tolist()
            cs = torch.randint(0, w - pw + 1, (self.batch,), generator=gen).tolist()
            xb = torch.stack([x[:, r : r + ph, c : c + pw] for r, c in zip(rs, cs, strict=True)])
            yb = torch.stack([y[:, r : r + ph, c : c + pw] for r, c in zip(rs, cs, strict=True)])
            mb = torch.stack([m[:, r : r + ph, c : c + pw] for r, c in zip(rs, cs, strict=True)])
            loss = ((net(xb) - yb).abs() * mb).sum() / (mb.sum() * yb.shape[1]).clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_value = float(loss.detach())
            if progress:
                progress(it + 1, self.iterations)
        return loss_value

    # --- windows -------------------------------------------------------------------------------------------
    def halo(self, factor: int) -> int:
        base = super().halo(factor)
        if factor != _FACTOR:
            return base
        radius = 2 + 2 * self.n_blocks
        return base + radius + consistency_support(factor, self.consistency_reg) + factor * fill_radius()

    def _sharpen_block(
        self, stack: S2Stack, block: Window, bands: Sequence[str], factor: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        if factor != _FACTOR or self.net is None:
            return super()._sharpen_block(stack, block, bands, factor)
        guides, per_band = self._classical_block(
            stack, block, list(dict.fromkeys([*self.targets, *bands])), factor
        )
        classical = np.stack([per_band[b][0] for b in self.targets])
        assert self._norm is not None  # set by fit() with the network
        mean, std = self._norm
        x = torch.from_numpy(((np.concatenate([guides, classical]) - mean) / std).astype(np.float32))[None]
        with torch.no_grad():
            residual = self.net(x)[0].numpy() * _RESIDUAL_SCALE
        refined = {
            b: project_consistent(
                classical[i] + residual[i], per_band[b][2], factor, per_band[b][3], self.consistency_reg
            )
            for i, b in enumerate(self.targets)
        }
        return [(refined.get(b, per_band[b][0]), per_band[b][1]) for b in bands]
