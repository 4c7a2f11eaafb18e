"""Repository tooling for the Maestro shared libraries: release pipeline and local servers.

Not published. ``maestro_devtools.release`` builds, publishes and verifies the four packages;
``maestro_devtools.servers`` starts real servers on loopback for the release pipeline and for
the shared test harness in ``tests/``.
"""
