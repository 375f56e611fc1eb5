"""Tiny random-weight diffusers pipelines built in code, fully offline, saved with ``save_pretrained``.

Each ``build_*`` function makes every component from a small config under ``torch.manual_seed(0)``
and saves the pipeline into ``folder`` (which then holds a ``model_index.json``), so tests and the
benchmark load it through the backend's real ``from_pretrained`` path. Tokenizers need no download:
``ByT5Tokenizer()`` for the T5 slots and a byte-level ``vocab.json``/``merges.txt`` for CLIP
(see GENERATION.md §2.2 in the team's shared notes).

Public: build_sd, build_wan_i2v, build_wan_flf2v, build_ltx_i2v, build_svd, write_clip_tokenizer, BUILDERS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "build_sd",
    "build_wan_i2v",
    "build_wan_flf2v",
    "build_ltx_i2v",
    "build_svd",
    "write_clip_tokenizer",
    "BUILDERS",
]

T5_DIM = 32


def _t5():
    import torch
    from transformers import ByT5Tokenizer, T5Config, T5EncoderModel

    torch.manual_seed(0)
    cfg = T5Config(vocab_size=384, d_model=T5_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                   relative_attention_num_buckets=8, dropout_rate=0.0)
    return ByT5Tokenizer(), T5EncoderModel(cfg).eval()


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_clip_tokenizer(folder: Path) -> Path:
    """Write a byte-level CLIP ``vocab.json`` (514 ids) + empty ``merges.txt`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return folder


def build_sd(folder: Path) -> Path:
    """A tiny Stable Diffusion 1.5-style text-to-image pipeline (64 px native)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    tok = CLIPTokenizer.from_pretrained(str(write_clip_tokenizer(folder.parent / (folder.name + "-cliptok"))),
                                        model_max_length=77)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=4, attention_head_dim=4)
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[8, 8, 8, 8], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        latent_channels=4, norm_num_groups=4, sample_size=64)
    torch.manual_seed(0)
    text = CLIPTextModel(CLIPTextConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                        pad_token_id=tok.pad_token_id or 0, hidden_size=32, intermediate_size=37,
                                        layer_norm_eps=1e-5, num_attention_heads=4, num_hidden_layers=2,
                                        vocab_size=len(tok), max_position_embeddings=77)).eval()
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=tok, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


def _wan(folder: Path, *, flf: bool) -> Path:
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    tok, text = _t5()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(0)
    img = 4 if flf else 32
    extra = {"pos_embed_seq_len": 2 * (4 * 4 + 1)} if flf else {}
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=36, out_channels=16, text_dim=T5_DIM, freq_dim=256, ffn_dim=32,
                                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=32, image_dim=4, **extra)
    torch.manual_seed(0)
    enc = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=4, projection_dim=4, num_hidden_layers=2,
                                                         num_attention_heads=2, image_size=img, intermediate_size=16,
                                                         patch_size=1)).eval()
    proc = CLIPImageProcessor(crop_size=img, size=img)
    pipe = WanImageToVideoPipeline(tokenizer=tok, text_encoder=text, vae=vae,
                                   scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), image_processor=proc,
                                   image_encoder=enc, transformer=transformer)
    pipe.save_pretrained(folder)
    return Path(folder)


def build_wan_i2v(folder: Path) -> Path:
    """A tiny Wan 2.1 I2V pipeline (``WanImageToVideoPipeline``; 4k+1 frames, sizes %16)."""
    return _wan(folder, flf=False)


def build_wan_flf2v(folder: Path) -> Path:
    """A tiny Wan 2.1 FLF2V pipeline (first + last frame; two image embeddings)."""
    return _wan(folder, flf=True)


def build_ltx_i2v(folder: Path) -> Path:
    """A tiny LTX-Video I2V pipeline (``LTXImageToVideoPipeline``; tiny VAE: 4x spatial, 4x temporal)."""
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXImageToVideoPipeline,
                           LTXVideoTransformer3DModel)

    tok, text = _t5()
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
                                             num_layers=1, caption_channels=T5_DIM)
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
                                decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
                                decoder_layers_per_block=(1, 1, 1, 1, 1),
                                spatio_temporal_scaling=(True, True, False, False),
                                decoder_spatio_temporal_scaling=(True, True, False, False),
                                decoder_inject_noise=(False, False, False, False, False),
                                upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
                                timestep_conditioning=False, patch_size=1, patch_size_t=1, encoder_causal=True,
                                decoder_causal=False)
    pipe = LTXImageToVideoPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text,
                                   tokenizer=tok, transformer=transformer)
    pipe.save_pretrained(folder)
    return Path(folder)


def build_svd(folder: Path, *, num_frames: int = 6) -> Path:
    """A tiny Stable Video Diffusion pipeline (``num_frames`` per generation, 224 px CLIP input)."""
    import torch
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=8,
                                            in_channels=8, out_channels=4,
                                            down_block_types=("CrossAttnDownBlockSpatioTemporal",
                                                              "DownBlockSpatioTemporal"),
                                            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
                                            cross_attention_dim=32, num_attention_heads=(2, 4),
                                            projection_class_embeddings_input_dim=96, addition_time_embed_dim=32,
                                            num_frames=num_frames)
    sched = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                   interpolation_type="linear", num_train_timesteps=1000, prediction_type="v_prediction",
                                   sigma_max=700.0, sigma_min=0.002, steps_offset=1, timestep_spacing="leading",
                                   timestep_type="continuous", trained_betas=None, use_karras_sigmas=True)
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                       down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], latent_channels=4)
    torch.manual_seed(0)
    enc = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, projection_dim=32, num_hidden_layers=2,
                                                         num_attention_heads=4, image_size=224, intermediate_size=37,
                                                         patch_size=32)).eval()
    proc = CLIPImageProcessor(crop_size=224, size=224)
    pipe = StableVideoDiffusionPipeline(vae=vae, image_encoder=enc, unet=unet, scheduler=sched, feature_extractor=proc)
    pipe.save_pretrained(folder)
    return Path(folder)


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "sd": build_sd,
    "wan": build_wan_i2v,
    "wan_flf": build_wan_flf2v,
    "ltx": build_ltx_i2v,
    "svd": build_svd,
}
