"""txzpub's benchmark suite: run ``python bench/run.py`` or ``nox -s bench`` (see run.py)."""
