"""Semi-supervised learning through a GAN (Salimans et al. 2016, "Improved Techniques for
Training GANs", arXiv 1606.03498, section 5): D is a K-class classifier whose implicit
(K+1)-th class is "fake"; G is trained by feature matching.

    from gankit.semisup import load_semisup_config, train_semisup
    result = train_semisup(load_semisup_config("ssgan_mnist100", ["seed=1", "epochs=10"]))
    print(result.test_errors, "errors out of", result.test_size)   # one count per seed: [..]
"""

from gankit.semisup.classifier import load_classifier, load_image, predict, save_classifier, test_errors
from gankit.semisup.config import SemisupConfig, list_semisup_recipes, load_semisup_config
from gankit.semisup.data import balanced_labeled_indices, load_semisup_data
from gankit.semisup.losses import (class_balance_loss, conditional_entropy, consistency_loss, feature_matching_loss,
                                   mean_prediction, running_balance_loss, supervised_loss,
                                   unlabeled_loss)
from gankit.semisup.nets import (Classifier, GaussianNoise, Generator, WNLinear, copy_of, data_dependent_init,
                                 stack_copies)
from gankit.semisup.game import SemisupGame, SemisupResult, semisup_trainer, train_semisup

__all__ = [
    "Classifier", "GaussianNoise", "Generator", "SemisupConfig", "SemisupGame", "SemisupResult",
    "WNLinear", "balanced_labeled_indices", "class_balance_loss", "conditional_entropy", "consistency_loss",
    "copy_of", "data_dependent_init", "feature_matching_loss", "list_semisup_recipes", "load_classifier",
    "load_image", "load_semisup_config", "load_semisup_data", "mean_prediction", "predict", "running_balance_loss",
    "save_classifier", "semisup_trainer", "stack_copies", "supervised_loss", "test_errors", "train_semisup", "unlabeled_loss",
]
