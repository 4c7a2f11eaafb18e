"""``python -m maestro_test_adapters`` runs the ``maestro-test`` command."""

from maestro_test_adapters.cli import main

main()
