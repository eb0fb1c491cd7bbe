"""Knowledge-conditioned diffusion transformer (DiT) for the teaching image generator.

Pure `nn.Module` code: no sampling, no I/O, no argparse. The layout follows facebookresearch/DiT
(`models.py`): patch embedding, adaLN-Zero blocks, a final adaLN layer, and a size registry.

Conditioning (everything is computed once per request by `DiT.prepare`, never inside the step loop):
- spatial: one mask channel per finding slot enters the patch embedding, so a drawn mask decides where a
  lesion is; an all-zero channel means "the model chooses";
- vector c = timestep embedding + structured knowledge-graph condition (per finding slot: finding +
  laterality + severity + location embeddings + size/mask features, pooled over slots; plus sex, age band,
  modality and view) + projected pooled MiniLM text embedding;
- optional cross-attention (`text_mode="cross"`) over finding-slot tokens and MiniLM token embeddings.

Classifier-free guidance: `drop` (N,) bool replaces the whole condition of a row (vector, masks and
cross-attention context) with the learned null condition. During training rows are dropped at random
with probability `cond_drop_prob`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from .conditions import MAX_FINDINGS
from .vocabulary import AGE_BANDS, FINDING_IDS, LATERALITIES, MODALITIES, SEVERITIES, SEXES, VIEWS
from .vocabulary import LOCATIONS as VOCABULARY_LOCATIONS

# Flattened view vocabulary (index 0 reserved for "unknown"), shared with `encoding.py`.
ALL_VIEWS: tuple[str, ...] = tuple(f"{m}:{v}" for m in MODALITIES for v in VIEWS[m])

# Lobes and zones a case author may type into `Finding.location` (case-insensitive). Index 0 means
# "unspecified" and the last index means "something else" (free text the model was not trained on).
LOCATIONS: tuple[str, ...] = VOCABULARY_LOCATIONS  # the order is part of the trained weights

# Per-slot numeric features computed by `encoding.py`:
# [has_size, size_mm / 100, has_mask, mask area fraction, mask centroid y, mask centroid x] (centroids in [-1, 1])
N_FINDING_FEATURES = 6


@dataclass(frozen=True)
class DiTConfig:
    image_size: int = 64  # pixels (square)
    in_channels: int = 1  # 1 for cxr/ct, 3 for laparoscopy
    patch_size: int = 4  # tokens = (image_size / patch_size) ** 2
    hidden: int = 256  # transformer width D
    depth: int = 6  # number of DiT blocks
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384  # MiniLM-L6 embedding width
    text_mode: str = "pooled"  # "pooled": text only through c; "cross": plus cross-attention over tokens
    n_findings: int = len(FINDING_IDS) + 1  # id 0 = no finding / padding
    max_findings: int = MAX_FINDINGS  # finding slots per image
    mask_channels: int = MAX_FINDINGS  # one spatial mask channel per finding slot
    n_locations: int = len(LOCATIONS)
    cond_drop_prob: float = 0.1  # classifier-free guidance: condition dropout while training
    modalities: tuple[str, ...] = ("cxr",)  # modalities these weights were trained for
    # diffusion settings the weights were trained with (read by the pipeline to build the sampler)
    prediction_type: str = "v_prediction"  # or "epsilon"
    beta_schedule: str = "squaredcos_cap_v2"
    num_train_timesteps: int = 1000

    def __post_init__(self):
        assert self.image_size % self.patch_size == 0, "image_size must be a multiple of patch_size"
        assert self.hidden % self.heads == 0, "hidden must be divisible by heads"
        assert self.text_mode in ("pooled", "cross"), (
            f"text_mode {self.text_mode!r} is not 'pooled' or 'cross'"
        )
        assert self.prediction_type in ("epsilon", "v_prediction"), (
            f"bad prediction_type {self.prediction_type!r}"
        )
        assert self.mask_channels == self.max_findings, "one mask channel per finding slot"

    @property
    def num_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        data = asdict(self)
        data["modalities"] = list(self.modalities)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DiTConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown DiTConfig field(s): {', '.join(sorted(unknown))}")
        data = dict(data)
        if "modalities" in data:
            data["modalities"] = tuple(data["modalities"])
        return cls(**data)


# Size registry. Cost on CPU follows tokens x depth (see docs/MODEL_CARD.md for measured step times).
DIT_CONFIGS: dict[str, DiTConfig] = {
    "dit-xs": DiTConfig(hidden=128, depth=4, heads=4),
    "dit-s": DiTConfig(hidden=256, depth=6, heads=4),  # ~7.5M parameters: the CPU recipe
    "dit-b": DiTConfig(hidden=512, depth=12, heads=8),  # GPU recipe
}


def dit_config(name: str, **overrides) -> DiTConfig:
    if name not in DIT_CONFIGS:
        raise KeyError(f"unknown DiT size {name!r} (known: {', '.join(DIT_CONFIGS)})")
    return replace(DIT_CONFIGS[name], **overrides)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


#################################################################################
#               Embedding layers for timesteps and knowledge conditions          #
#################################################################################


class TimestepEmbedder(nn.Module):
    """Embeds scalar timesteps into vector representations (as in DiT)."""

    def __init__(self, hidden: int, frequency_embedding_size: int = 256):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: int = 10000) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(
            -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
        )
        args = t[:, None].float() * freqs[None]  # (N, half)
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (N, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.timestep_embedding(t, self.frequency_embedding_size))  # (N, D)


class ConditionEmbedder(nn.Module):
    """Structured knowledge-graph condition + text -> (N, D) vector and (N, S, D) finding-slot tokens."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        D = config.hidden
        self.finding = nn.Embedding(config.n_findings, D)
        self.laterality = nn.Embedding(len(LATERALITIES), D)
        self.severity = nn.Embedding(len(SEVERITIES), D)
        self.location = nn.Embedding(config.n_locations, D)
        self.features = nn.Linear(N_FINDING_FEATURES, D)
        self.slot_mlp = nn.Sequential(nn.SiLU(), nn.Linear(D, D))
        self.sex = nn.Embedding(len(SEXES), D)
        self.age = nn.Embedding(len(AGE_BANDS), D)
        self.modality = nn.Embedding(len(MODALITIES), D)
        self.view = nn.Embedding(len(ALL_VIEWS) + 1, D)
        self.text = nn.Sequential(nn.Linear(config.text_dim, D), nn.SiLU(), nn.Linear(D, D))
        self.null = nn.Parameter(torch.zeros(D))  # the dropped ("unconditional") condition

    def forward(self, cond: dict[str, torch.Tensor], drop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = cond["finding_ids"]  # (N, S)
        slots = (
            self.finding(ids)
            + self.laterality(cond["laterality_ids"])
            + self.severity(cond["severity_ids"])
            + self.location(cond["location_ids"])
            + self.features(cond["finding_features"])
        )  # (N, S, D)
        slots = self.slot_mlp(slots)  # (N, S, D)
        valid = (ids > 0).unsqueeze(-1).to(slots.dtype)  # (N, S, 1)
        slots = slots * valid
        pooled = slots.sum(dim=1)  # (N, D): sum keeps the number of findings visible
        patient = (
            self.sex(cond["sex_ids"])
            + self.age(cond["age_ids"])
            + self.modality(cond["modality_ids"])
            + self.view(cond["view_ids"])
        )  # (N, D)
        c = pooled + patient + self.text(cond["text"])  # (N, D)
        keep = (~drop).unsqueeze(-1).to(c.dtype)  # (N, 1)
        c = c * keep + self.null.to(c.dtype) * (1 - keep)
        return c, slots * keep.unsqueeze(-1)


#################################################################################
#                                 Core DiT model                                #
#################################################################################


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, T, D = x.shape
        qkv = (
            self.qkv(x).reshape(N, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        )  # (3, N, H, T, Dh)
        x = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (N, H, T, Dh)
        return self.proj(x.transpose(1, 2).reshape(N, T, D))  # (N, T, D)


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, ctx_mask: torch.Tensor) -> torch.Tensor:
        N, T, D = x.shape
        L = ctx.shape[1]
        Dh = D // self.heads
        q = self.q(x).reshape(N, T, self.heads, Dh).transpose(1, 2)  # (N, H, T, Dh)
        kv = self.kv(ctx).reshape(N, L, 2, self.heads, Dh).permute(2, 0, 3, 1, 4)  # (2, N, H, L, Dh)
        attn_mask = ctx_mask[:, None, None, :]  # (N, 1, 1, L) bool, True = attend
        x = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=attn_mask)  # (N, H, T, Dh)
        return self.proj(x.transpose(1, 2).reshape(N, T, D))


class DiTBlock(nn.Module):
    """A DiT block with adaLN-Zero conditioning (and optional cross-attention)."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, cross: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, heads)
        self.cross = cross
        if cross:
            self.norm_cross = nn.LayerNorm(hidden, eps=1e-6)
            self.cross_attn = CrossAttention(hidden, heads)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        mlp_hidden = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, mlp_hidden), nn.GELU(approximate="tanh"), nn.Linear(mlp_hidden, hidden)
        )
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x, c, ctx=None, ctx_mask=None):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(
            6, dim=1
        )
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        if self.cross:
            x = x + self.cross_attn(self.norm_cross(x), ctx, ctx_mask)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, hidden: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


@dataclass
class PreparedCondition:
    """Everything about the condition that does not change between sampling steps."""

    c: torch.Tensor  # (N, D) condition vector (without the timestep)
    mask_tokens: torch.Tensor  # (N, T, D) patch embedding of the mask channels
    ctx: torch.Tensor | None = None  # (N, L, D) cross-attention context
    ctx_mask: torch.Tensor | None = None  # (N, L) bool


class DiT(nn.Module):
    """Diffusion model with a Transformer backbone, conditioned on findings, masks, patient and text."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        D, p = config.hidden, config.patch_size
        self.grid = config.image_size // p
        # The patch embedding of cat([x, masks]) is linear, so it is split in two convolutions: the mask part
        # is computed once per request (`prepare`), the image part every step.
        self.x_embedder = nn.Conv2d(config.in_channels, D, kernel_size=p, stride=p)
        self.mask_embedder = nn.Conv2d(config.mask_channels, D, kernel_size=p, stride=p, bias=False)
        self.register_buffer(
            "pos_embed", get_2d_sincos_pos_embed(D, self.grid)[None], persistent=False
        )  # (1, T, D)
        self.t_embedder = TimestepEmbedder(D)
        self.y_embedder = ConditionEmbedder(config)
        cross = config.text_mode == "cross"
        if cross:
            self.ctx_text = nn.Linear(config.text_dim, D)
            self.ctx_null = nn.Parameter(torch.zeros(1, 1, D))  # always-present context token
        self.blocks = nn.ModuleList(
            [DiTBlock(D, config.heads, config.mlp_ratio, cross) for _ in range(config.depth)]
        )
        self.final_layer = FinalLayer(D, p, config.in_channels)
        self.initialize_weights()

    def initialize_weights(self):
        def _basic_init(module):
            if isinstance(module, nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)

        self.apply(_basic_init)
        # patch embeddings like nn.Linear (instead of nn.Conv2d)
        for conv in (self.x_embedder, self.mask_embedder):
            nn.init.xavier_uniform_(conv.weight.view(conv.weight.shape[0], -1))
        nn.init.constant_(self.x_embedder.bias, 0)
        for emb in (
            self.y_embedder.finding,
            self.y_embedder.laterality,
            self.y_embedder.severity,
            self.y_embedder.location,
            self.y_embedder.sex,
            self.y_embedder.age,
            self.y_embedder.modality,
            self.y_embedder.view,
        ):
            nn.init.normal_(emb.weight, std=0.02)
        nn.init.normal_(self.y_embedder.null, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        # adaLN-Zero: every block starts as the identity, the output starts at zero
        for block in self.blocks:
            nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(block.adaLN_modulation[-1].bias, 0)
            if block.cross:
                nn.init.constant_(block.cross_attn.proj.weight, 0)
                nn.init.constant_(block.cross_attn.proj.bias, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].weight, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.linear.weight, 0)
        nn.init.constant_(self.final_layer.linear.bias, 0)
        if self.config.text_mode == "cross":
            nn.init.normal_(self.ctx_null, std=0.02)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, p*p*C) -> (N, C, H, W)"""
        c, p, h = self.config.in_channels, self.config.patch_size, self.grid
        x = x.reshape(x.shape[0], h, h, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, h * p)

    def prepare(self, cond: dict[str, torch.Tensor], drop: torch.Tensor | None = None) -> PreparedCondition:
        """Embed the condition once; `drop` (N,) bool selects the null (unconditional) condition per row."""
        masks = cond["masks"]  # (N, S, H, W) in [0, 1]
        N = masks.shape[0]
        if drop is None:
            if self.training and self.config.cond_drop_prob > 0:
                drop = torch.rand(N, device=masks.device) < self.config.cond_drop_prob
            else:
                drop = torch.zeros(N, dtype=torch.bool, device=masks.device)
        keep = (~drop).to(masks.dtype)[:, None, None, None]  # (N, 1, 1, 1)
        mask_tokens = self.mask_embedder(masks * keep).flatten(2).transpose(1, 2)  # (N, T, D)
        c, slots = self.y_embedder(cond, drop)  # (N, D), (N, S, D)
        prepared = PreparedCondition(c=c, mask_tokens=mask_tokens)
        if self.config.text_mode == "cross":
            tokens = self.ctx_text(cond["text_tokens"])  # (N, L, D)
            text_mask = cond["text_mask"] & ~drop[:, None]  # (N, L)
            slot_mask = (cond["finding_ids"] > 0) & ~drop[:, None]  # (N, S)
            null = self.ctx_null.expand(N, -1, -1).to(tokens.dtype)  # (N, 1, D)
            prepared.ctx = torch.cat([null, slots.to(tokens.dtype), tokens], dim=1)  # (N, 1+S+L, D)
            always = torch.ones(N, 1, dtype=torch.bool, device=masks.device)
            prepared.ctx_mask = torch.cat([always, slot_mask, text_mask], dim=1)  # (N, 1+S+L)
        return prepared

    def forward_prepared(self, x: torch.Tensor, t: torch.Tensor, prepared: PreparedCondition) -> torch.Tensor:
        """
        x: (N, C, H, W) noisy images, t: (N,) diffusion timesteps, prepared: from `prepare`.
        Returns (N, C, H, W): the eps or v prediction, depending on `config.prediction_type`.
        """
        x = self.x_embedder(x).flatten(2).transpose(1, 2) + prepared.mask_tokens + self.pos_embed  # (N, T, D)
        c = self.t_embedder(t) + prepared.c  # (N, D)
        for block in self.blocks:
            x = block(x, c, prepared.ctx, prepared.ctx_mask)  # (N, T, D)
        x = self.final_layer(x, c)  # (N, T, p*p*C)
        return self.unpatchify(x)  # (N, C, H, W)

    def forward(self, x, t, cond: dict[str, torch.Tensor], drop: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_prepared(x, t, self.prepare(cond, drop))


#################################################################################
#                   Sine/Cosine positional embedding (from DiT / MAE)            #
#################################################################################


def get_2d_sincos_pos_embed(embed_dim: int, grid_size: int) -> torch.Tensor:
    """(grid_size**2, embed_dim) fixed 2D sin-cos position embedding."""
    coords = torch.arange(grid_size, dtype=torch.float64)
    grid_h, grid_w = torch.meshgrid(coords, coords, indexing="ij")

    def _1d(dim: int, pos: torch.Tensor) -> torch.Tensor:
        omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
        out = pos.reshape(-1)[:, None] * omega[None]  # (M, dim/2)
        return torch.cat([torch.sin(out), torch.cos(out)], dim=1)  # (M, dim)

    emb = torch.cat([_1d(embed_dim // 2, grid_w), _1d(embed_dim // 2, grid_h)], dim=1)
    return emb.float()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
