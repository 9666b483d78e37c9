"""``python -m gankit`` (this is what ``torchrun -m gankit train ...`` runs)."""

from gankit.cli import main

main()
