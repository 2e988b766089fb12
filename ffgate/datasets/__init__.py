"""Custom-model training sets: checking a folder of images and captions against what Adobe documents for
Firefly's trainer before a 20-30 minute training run finds out (ffgate.datasets.check; the documented
numbers and their sources are in ffgate.datasets.requirements). No command-line code here: `ffgate dataset
check` (ffgate.cli.dataset) shows the report."""

from ffgate.datasets.check import DatasetError, Finding, ImageReport, Report, check_dataset
from ffgate.datasets.requirements import REQUIREMENTS, SOURCES, Requirements

__all__ = [
    "REQUIREMENTS",
    "SOURCES",
    "DatasetError",
    "Finding",
    "ImageReport",
    "Report",
    "Requirements",
    "check_dataset",
]
