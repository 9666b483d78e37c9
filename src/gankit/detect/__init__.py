"""Telling generated images from real ones (issue 28, the detector half; the signing half is
gankit.provenance).

    config.py     DetectConfig: a recipe (gankit/configs/detect/) maps onto it one-to-one
    images.py     real images from a split, generated ones from a GAN run folder, image files; all uint8
    perturb.py    JPEG, Gaussian blur, resizing; Wang et al.'s blur + JPEG training augmentation
    model.py      the detector CNN, loading it from a run folder, scoring images
    game.py       DetectorGame on the one loop, train_detector
    baselines.py  logistic regression on the log spectrum; pixel nearest neighbours
    report.py     AP and accuracy per generator and perturbation
    evaluate.py   a trained detector against held-out generators, with the baselines beside it

    >>> cfg = load_detect_config("wang2020_small", ['fake=["runs/dcgan-mnist"]'])
    >>> trained = train_detector(cfg, out="runs/detect-dcgan")
    >>> CNNScorer(trained.model).scores(images_uint8)        # P(generated) per image
"""

from gankit.detect.baselines import BASELINES, PixelNearestNeighbours, SpectrumLogistic
from gankit.detect.config import DetectConfig, load_detect_config, read_detect_config
from gankit.detect.game import DetectorGame, TrainedDetector, train_detector, training_images
from gankit.detect.images import EVAL_NOISE_SEED, generated_images, load_fake_source, read_image_files, real_images
from gankit.detect.model import CNNScorer, build_detector, load_detector
from gankit.detect.perturb import PERTURBATIONS, blur_jpeg, gaussian_blur, jpeg, resize
from gankit.detect.report import detection_scores, evaluate_scorers, mean_held_out
from gankit.detect.evaluate import CNN, evaluate_detector, source_name

__all__ = ["BASELINES", "CNN", "CNNScorer", "DetectConfig", "DetectorGame", "EVAL_NOISE_SEED", "PERTURBATIONS",
           "PixelNearestNeighbours", "SpectrumLogistic", "TrainedDetector", "blur_jpeg", "build_detector",
           "detection_scores", "evaluate_detector", "evaluate_scorers", "gaussian_blur", "generated_images",
           "jpeg", "load_detect_config", "load_detector", "load_fake_source", "mean_held_out",
           "read_detect_config", "read_image_files", "real_images", "resize", "source_name", "train_detector",
           "training_images"]
