"""A diffusion pipeline's parts from a model folder: tokenizer, text encoder, VAE, UNet, DDIM scheduler.

Loading goes through geogen's checked loaders (``geogen.models.loading``): a DiffusionSat UNet becomes a
``SatUNet`` (a stock class would silently drop its metadata weights), and every missing or mismatched weight
is refused. The scheduler is always DDIM built from the folder's scheduler config (DiffusionSat:
v-prediction). Precision: float16 on CUDA/MPS by default (bfloat16 on request), float32 on CPU; attention
runs through PyTorch's scaled-dot-product attention (diffusers' ``AttnProcessor2_0``). With ``cpu_offload``
each part stays in CPU memory and visits the accelerator only for its phase (text encoding, denoising,
decoding). With ``compile`` the UNet, and any ControlNet an engine hands to ``DiffusionComponents.adopt``, run
through ``torch.compile`` (``geogen.diffusion.compiling``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from geogen.diffusion.compiling import compile_in_place
from geogen.diffusion.options import DiffusionOptions
from geogen.errors import EngineError, ModelError
from geogen.metadata import FIELDS
from geogen.store import DIFFUSIONSAT, ModelEntry

SUBFOLDERS = ("tokenizer", "text_encoder", "vae", "unet", "scheduler")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def select_device(name: str | None = None) -> torch.device:
    """The torch device for ``name`` ("auto"/None: CUDA, else Apple MPS, else CPU).

    Raises:
        EngineError: the named device does not exist on this machine.
    """
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise EngineError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {name!r} asked for, but this torch build sees no CUDA GPU")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise EngineError(
            f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA GPU(s) exist"
        )
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise EngineError("device 'mps' asked for, but Apple MPS is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise EngineError(f"device {name!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return device


def select_dtype(device: torch.device, name: str | None = None) -> torch.dtype:
    """The compute dtype ("auto"/None: float16 on CUDA/MPS, float32 on CPU; or "fp32", "fp16", "bf16").

    Raises:
        EngineError: unknown name, or float16 on the CPU (too many CPU kernels lack it).
    """
    if name in (None, "", "auto"):
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    if name not in DTYPES:
        raise EngineError(f"unknown dtype {name!r}; use auto, {', '.join(DTYPES)}")
    if name == "fp16" and device.type == "cpu":
        raise EngineError("dtype fp16 is not supported on the CPU; use fp32 (default) or bf16")
    return DTYPES[name]


@dataclass
class DiffusionComponents:
    """The loaded parts of one model, where they run, and the geometry they imply."""

    name: str
    tokenizer: Any
    # The models are Any: their configs are read by attribute, which diffusers' typing (config: dict) and
    # torch.nn.Module's (every attribute Tensor | Module) cannot express.
    text_encoder: Any
    vae: Any
    unet: Any
    scheduler: Any
    device: torch.device
    dtype: torch.dtype
    cpu_offload: bool = False
    compile: bool = False

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent pixel (8 for Stable Diffusion's VAE)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def unet_factor(self) -> int:
        """Latent sides the UNet accepts are multiples of this (2 ** its number of downsamplings)."""
        return 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def latent_channels(self) -> int:
        return int(self.unet.config.in_channels)

    @property
    def num_metadata(self) -> int:
        """Metadata fields the UNet reads (DiffusionSat: 7), 0 for a stock UNet."""
        embedding = getattr(self.unet, "metadata_embedding", None)
        return 0 if embedding is None else len(embedding)

    @property
    def prediction_type(self) -> str:
        return str(self.scheduler.config.prediction_type)

    @contextlib.contextmanager
    def placed(self, module: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """``module`` on the compute device for the ``with`` block (back to the CPU after it with offload)."""
        if not self.cpu_offload:
            yield module
            return
        module.to(self.device)
        try:
            yield module
        finally:
            module.to("cpu")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    def adopt(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` (a ControlNet steering the UNet) set up as the UNet is: no gradients, on the compute
        device (in CPU memory with offload), compiled when the components are; returns it."""
        module.requires_grad_(False).to("cpu" if self.cpu_offload else self.device)
        return compile_in_place(module) if self.compile else module

    def prompt_overflow(self, prompt: str) -> int:
        """How many of ``prompt``'s tokens the text encoder never sees (it reads ``model_max_length``)."""
        ids = self.tokenizer(prompt, truncation=False).input_ids
        return max(0, len(ids) - int(self.tokenizer.model_max_length))

    @torch.no_grad()
    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """Text embeddings (P, tokens, width) of ``prompts``, on the device in the compute dtype."""
        tokens = self.tokenizer(
            list(prompts),
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        with self.placed(self.text_encoder) as encoder:
            hidden = encoder(tokens.input_ids.to(self.device))[0]
        return hidden.to(device=self.device, dtype=self.dtype)


def _pipeline_folder(entry: ModelEntry) -> Path:
    """The folder holding model_index.json and the tokenizer/text_encoder/vae/scheduler subfolders.

    Raises:
        ModelError: the model has no pipeline folder, or one of its parts is missing.
    """
    folder = entry.pipeline_path
    if folder is None:
        raise ModelError(
            f"model {entry.name!r} at {entry.path} is a bare UNet without its pipeline (model_index.json "
            "with tokenizer/, text_encoder/, vae/ and scheduler/ folders); install the whole pipeline folder"
        )
    missing = [sub for sub in SUBFOLDERS if sub != "unet" and not (folder / sub).is_dir()]
    if missing:
        raise ModelError(f"model {entry.name!r}: the pipeline folder {folder} lacks {', '.join(missing)}")
    return folder


def _load_tokenizer(folder: Path) -> Any:
    from transformers import CLIPTokenizer

    try:
        return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"cannot load the tokenizer in {folder}: {exc}") from None


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No transformers progress bars on stderr while loading (geogen reports progress itself)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _load_text_encoder(folder: Path, dtype: torch.dtype, trust_pickle: bool = False) -> torch.nn.Module:
    import pickle

    from transformers import CLIPTextModel

    from geogen.models.loading import check_folder_weights

    full_unpickle = check_folder_weights(folder, trust_pickle=trust_pickle)  # one-line refusal of a pickle
    try:
        with _quiet_transformers():
            # (model, loading info) with output_loading_info; transformers types it as the model alone.
            loaded: Any = CLIPTextModel.from_pretrained(
                str(folder),
                local_files_only=True,
                dtype=dtype,
                output_loading_info=True,
                weights_only=not full_unpickle,
            )
            model, info = loaded
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
        raise ModelError(f"cannot load the text encoder in {folder}: {exc}") from None
    # Unexpected keys are harmless leftovers (e.g. position_ids buffers of older transformers); missing or
    # resized ones would mean a randomly initialised encoder.
    problems = {k: v for k, v in info.items() if k in ("missing_keys", "mismatched_keys") and v}
    if problems:
        raise ModelError(f"the text encoder weights in {folder} do not match CLIPTextModel: {problems}")
    return model.eval()


def _load_scheduler(folder: Path, entry: ModelEntry) -> Any:
    """DDIM from the folder's scheduler config (without a prediction_type: DiffusionSat's v-prediction)."""
    from diffusers import DDIMScheduler

    try:
        config = dict(DDIMScheduler.load_config(str(folder)))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the scheduler config in {folder}: {exc}") from None
    if "prediction_type" not in config:  # diffusers' default is epsilon; every DiffusionSat model predicts v
        config["prediction_type"] = "v_prediction" if entry.kind == DIFFUSIONSAT else "epsilon"
    config.pop("_class_name", None)  # DDIM whatever the folder says (their pipelines default to it)
    return DDIMScheduler.from_config(config)


def _check_compatible(name: str, text_encoder: Any, vae: Any, unet: Any) -> None:
    width = int(text_encoder.config.hidden_size)
    cross = unet.config.cross_attention_dim
    if isinstance(cross, (list, tuple)):
        cross = cross[0]
    if width != int(cross):
        raise ModelError(
            f"model {name!r}: the text encoder gives {width}-wide embeddings but the UNet attends to "
            f"{cross}; the folder mixes parts of different models"
        )
    if int(vae.config.latent_channels) != int(unet.config.in_channels):
        raise ModelError(
            f"model {name!r}: the VAE has {vae.config.latent_channels} latent channels but the UNet "
            f"takes {unet.config.in_channels}"
        )


def load_components(
    entry: ModelEntry,
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    attention_slicing: bool = False,
    cpu_offload: bool = False,
    compile: bool = False,
) -> DiffusionComponents:
    """Load ``entry``'s pipeline for inference.

    Args:
        entry: from ``geogen.store.resolve`` (a DiffusionSat model or a Stable Diffusion pipeline).
        device: "auto" (default), "cpu", "cuda", "cuda:N", "mps", or a torch.device.
        dtype: "auto" (default), "fp32", "fp16", "bf16", or a torch.dtype.
        attention_slicing: compute attention in slices (less memory, slower).
        cpu_offload: keep every part in CPU memory and move it to the device only while it runs.
        compile: compile the UNet with ``torch.compile`` (see ``geogen.diffusion.compiling``).

    Raises:
        ModelError: missing parts, weights that do not match, or parts of different models.
        EngineError: an unavailable device or unsupported dtype.
    """
    from diffusers import AutoencoderKL
    from diffusers.models.attention_processor import AttnProcessor2_0

    from geogen.models.loading import load_checked, load_unet

    dev = device if isinstance(device, torch.device) else select_device(device)
    dt = dtype if isinstance(dtype, torch.dtype) else select_dtype(dev, dtype)
    folder = _pipeline_folder(entry)
    tokenizer = _load_tokenizer(folder / "tokenizer")
    text_encoder = _load_text_encoder(folder / "text_encoder", dt, entry.trust_pickle)
    vae: Any = load_checked(AutoencoderKL, folder / "vae", trust_pickle=entry.trust_pickle, torch_dtype=dt)
    unet: Any = load_unet(entry.weights_path, trust_pickle=entry.trust_pickle, torch_dtype=dt)
    scheduler = _load_scheduler(folder / "scheduler", entry)
    _check_compatible(entry.name, text_encoder, vae, unet)
    unet.set_attn_processor(AttnProcessor2_0())
    vae.set_attn_processor(AttnProcessor2_0())
    if attention_slicing:
        unet.set_attention_slice("auto")
    parts = (text_encoder, vae, unet)
    for module in parts:
        module.requires_grad_(False)
        module.to("cpu" if cpu_offload else dev)
    if compile:
        compile_in_place(unet)
    return DiffusionComponents(
        entry.name, tokenizer, text_encoder, vae, unet, scheduler, dev, dt, cpu_offload, compile
    )


def load_with_options(
    entry: ModelEntry, options: DiffusionOptions, device: str | torch.device | None = None
) -> DiffusionComponents:
    """``load_components`` as a job's diffusion ``options`` say (dtype, attention slicing, offload, compile);
    ``device`` as there (None: ``options.device``).

    Raises:
        ModelError, EngineError: see ``load_components``.
    """
    return load_components(
        entry,
        device=options.device if device is None else device,
        dtype=options.dtype,
        attention_slicing=options.attention_slicing,
        cpu_offload=options.cpu_offload,
        compile=options.compile,
    )


def load_for_layout(
    entry: ModelEntry,
    options: DiffusionOptions,
    device: torch.device,
    factor: int,
    *,
    stock_unet: bool = False,
) -> DiffusionComponents:
    """``entry``'s pipeline loaded as a job's diffusion ``options`` say, checked against the layout planned
    from its configs (``geogen.diffusion.planning``).

    Args:
        entry: the DiffusionSat model (or, with ``stock_unet``, a Stable Diffusion pipeline).
        options: the job's diffusion options (dtype, attention slicing, offload, compile).
        device: from ``select_device``.
        factor: the VAE factor the layout was planned with (from the VAE's config).
        stock_unet: also accept a UNet that reads no metadata.

    Raises:
        ModelError: unloadable parts, a VAE whose weights contradict its config, or a metadata count other
            than DiffusionSat's.
        EngineError: an unavailable device or unsupported dtype.
    """
    comps = load_with_options(entry, options, device)
    if comps.vae_scale_factor != factor:
        raise ModelError(
            f"model {entry.name!r}: its VAE config and weights disagree on the downsampling factor"
        )
    if comps.num_metadata not in ((0, len(FIELDS)) if stock_unet else (len(FIELDS),)):
        raise ModelError(
            f"model {entry.name!r} reads {comps.num_metadata} metadata fields; DiffusionSat's are "
            f"the {len(FIELDS)} of {', '.join(FIELDS)}"
        )
    return comps
