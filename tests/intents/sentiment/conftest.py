from tests.support.datasets import airline_csv  # noqa: F401  (a fixture, shared with tests/sentiment)
