"""Drop-in replacements for the APIs of other resilience libraries, running on maestro-resilience.

* ``maestro_resilience.compat.pybreaker``: pybreaker 1.4's module, importable in its place.

Examples:
    >>> from maestro_resilience.compat import pybreaker
    >>> breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=30)
    >>> breaker.current_state
    'closed'
"""
