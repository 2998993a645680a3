"""Grounded answer generation: a causal language model conditioned on the conversation and the
FAQ passages the gate retrieved, streamed token by token.

The pieces, each small and free of Django:
- `types`: the `TextGenerator` interface every backend implements (in-process transformers model,
  OpenAI-compatible HTTP server) and the chat messages it takes.
- `local`: a transformers causal LM in the worker process, with prompt-prefix KV caching.
- `openai_compatible`: streams from a vLLM / TGI / Ollama server's `/v1/chat/completions`.
- `prompting`: the grounded prompt built from the history and passages.
- `grounding`: the guard that removes facts no source supports.
- `responder`: the `Responder` that puts gate, generator and guard together.
"""
