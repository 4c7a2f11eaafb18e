"""Tests that prove each shared fixture starts a real server, works, and is torn down."""
