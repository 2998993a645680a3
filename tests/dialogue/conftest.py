from tests.intents.generation.conftest import tiny_model_dir  # noqa: F401  (a tiny causal LM, built once per session)
