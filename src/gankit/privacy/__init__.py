"""Private synthetic data: a differentially private conditional tabular GAN and its report.

    from gankit.privacy import SynthConfig, fit, load_example, synth_report
    train, holdout = load_example("breast-cancer")
    model = fit(train, SynthConfig(epsilon=1.0, delta=1e-5))
    report = synth_report(model, train, holdout)       # dict; write_report(...) for HTML + JSON

Beaulieu-Jones et al. 2019, "Privacy-preserving generative deep neural networks support
clinical data sharing" (a DP AC-GAN on clinical-trial records), with DP-SGD through Opacus.
"""

from gankit.privacy.examples import EXAMPLES, load_example, split_table
from gankit.privacy.schema import Column, IdentifierWarning, Schema, SchemaLeakWarning, Table, infer_schema, \
    load_schema, read_csv, save_schema
from gankit.privacy.synth import SynthConfig, Synthesizer, fit

__all__ = ["EXAMPLES", "Column", "IdentifierWarning", "Schema", "SchemaLeakWarning", "SynthConfig", "Synthesizer",
           "Table", "fit", "infer_schema", "load_example", "load_schema", "read_csv", "save_schema", "split_table"]
