"""Run by tests/test_ddp.py under torchrun: train briefly, then dump this rank's weights."""

import os
import sys
from pathlib import Path

from safetensors.torch import save_file

from gankit.config import load_config
from gankit.train import train

out = Path(sys.argv[1])
cfg = load_config("quickstart", ["data.image_size=8", "model.g_width=16", "model.d_width=16",
                                 "model.z_dim=16", "train.batch_size=32", "train.steps=6",
                                 "train.ckpt_every=3", "train.device=cpu", "train.ema=0.5"])
result = train(cfg, run_dir=out / "run", progress=False)
state = {**{f"G.{k}": v for k, v in result.generator.state_dict().items()},
         **{f"D.{k}": v for k, v in result.discriminator.state_dict().items()}}
save_file({k: v.contiguous() for k, v in state.items()}, str(out / f"rank{os.environ['RANK']}.safetensors"))
