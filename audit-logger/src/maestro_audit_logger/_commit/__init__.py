"""The committers `Sink` is built from, one per way of getting events to the store (see `state`)."""
