"""glassnet's benchmark suite: ``python -m bench`` (see ``bench/run.py`` and ``docs/performance.md``).

Not a test: nothing here is imported by the test suite and CI times nothing.
"""
