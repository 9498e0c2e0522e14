"""Benchmarks of transferability estimation, usable on any model zoo (ours or a published one).

:mod:`transferscope.benchmark.rank`: how well a score (LogME, LEEP, ...) ranks a zoo of pre-trained models against
their fine-tuned accuracy; ``python -m transferscope.benchmark.rank SCORES.csv [TRUTH.csv] --out RESULT.csv``.

Nothing is imported here, so that ``python -m transferscope.benchmark.rank`` does not find its module already
imported by the package (runpy's RuntimeWarning).
"""
