"""Deep Image Prior (Ulyanov, Vedaldi, Lempitsky 2018): restore one photo with an untrained network,
measured against the classical tools.

    gankit restore inpaint photo.png --mask mask.png -o restored.png
    gankit restore denoise noisy.png --sigma 25 -o restored.png --compare
    gankit restore superres small.png --scale 4 -o large.png --reference clean.png

    hourglass.py   the skip hourglass and its fixed input
    problem.py     what is observed and how the output is compared to it, per task
    game.py        DIP as a one-player game on the loop (gankit.loop)
    average.py     exponential averaging of outputs;  backtrack.py: back to the last good state
    early_stop.py  Wang et al. 2021's running-variance rule (no ground truth needed)
    baselines.py   biharmonic, Telea, Navier-Stokes, CBM3D, NL-means, bicubic, Lanczos
    run.py         restore(): the fit, the restored image, the picture strip, the JSON record
    images.py      reading photos and masks (with their checks), writing results
    corrupt.py     the benchmark's masks, noise and low-resolution copies;  photos.py: its photos
"""

from gankit.restore.baselines import BASELINES, estimate_sigma, run_baseline
from gankit.restore.config import RECIPES_DIR, TASKS, RestoreConfig, default_recipe, load_restore_config, \
    read_restore_config
from gankit.restore.early_stop import RunningVarianceStop
from gankit.restore.game import DIPGame
from gankit.restore.hourglass import SkipHourglass
from gankit.restore.images import read_image, read_mask, save_image
from gankit.restore.metrics import psnr, ssim
from gankit.restore.problem import Problem, denoising, inpainting, super_resolution
from gankit.restore.run import RestoreResult, restore

__all__ = ["BASELINES", "DIPGame", "Problem", "RECIPES_DIR", "RestoreConfig", "RestoreResult", "RunningVarianceStop",
           "SkipHourglass", "TASKS", "default_recipe", "denoising", "estimate_sigma", "inpainting",
           "load_restore_config", "psnr", "read_image", "read_mask", "read_restore_config", "restore",
           "run_baseline", "save_image", "ssim", "super_resolution"]
