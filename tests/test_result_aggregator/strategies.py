"""Hypothesis strategies for model objects, shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from maestro_test_result_aggregator.model import Attachment, Attempt, Status, TestResult

# Text the formats can carry: printable, no XML-illegal characters, no surrogates.
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
statuses = st.sampled_from(list(Status))
millis = st.integers(min_value=0, max_value=10_000_000).map(lambda ms: ms / 1000)

attachments = st.builds(Attachment, names, st.sampled_from(["image/png", "text/plain"]), names)

attempts = st.builds(
    Attempt,
    statuses,
    duration=millis,
    message=st.none() | text,
    trace=st.none() | text,
    stdout=st.none() | text,
    attachments=st.lists(attachments, max_size=1).map(tuple),
)


@st.composite
def results(draw: st.DrawFn, *, name: str | None = None) -> TestResult:
    """A result with the attempts convention respected (empty, or >= 2 with the last final)."""
    status = draw(statuses)
    tries = draw(st.lists(attempts, max_size=3))
    message = draw(st.none() | text)
    trace = draw(st.none() | text)
    duration = draw(millis)
    if len(tries) == 1:
        tries = []
    if tries:
        tries[-1] = Attempt(status, duration=duration, message=message, trace=trace)
    return TestResult(
        name=name if name is not None else draw(names),
        status=status,
        duration=duration,
        suite=tuple(draw(st.lists(names, min_size=1, max_size=2))),
        file=draw(st.none() | names),
        classname=draw(st.none() | names),
        line=draw(st.none() | st.integers(min_value=1, max_value=10_000)),
        parameters=draw(st.dictionaries(names, text, max_size=2)),
        message=message,
        trace=trace,
        stdout=draw(st.none() | text),
        tags=tuple(draw(st.lists(names, max_size=2))),
        attempts=tuple(tries),
    )
