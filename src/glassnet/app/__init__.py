"""The application: what only the command line needs (commands, configs, run folders, reports, plots,
experiments). The library below never imports it (an import-linter contract in pyproject.toml)."""
