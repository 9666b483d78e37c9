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
