"""The shared test suite of the repository (a package so that ``tests.fixtures`` imports)."""
