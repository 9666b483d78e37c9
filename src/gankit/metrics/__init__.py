"""Evaluation metrics. Each module is one family; this file only re-exports them."""

from gankit.metrics.quality import (
    ClassHistogram,
    DensityCoverage,
    MeanStd,
    PrecisionRecall,
    QualityReport,
    class_histogram,
    classifier_score,
    density_coverage,
    feature_stats,
    fid,
    frechet_distance,
    kid,
    precision_recall,
    quality_report,
)
from gankit.metrics.parzen import ParzenResult, parzen_evaluate, parzen_log_likelihood, select_sigma
from gankit.metrics.memorization import (
    CopyingResult,
    data_copying_test,
    fit_cells,
    nearest_neighbour_grid,
    nearest_neighbours,
    nn_distance_comparison,
)
from gankit.metrics.modes import ModeCoverage, mode_coverage
