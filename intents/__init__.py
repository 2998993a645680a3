"""The ML side of the desk: embeddings, FAQ retrieval and (later) intents, generation, sentiment.

Nothing in this package imports Django: it takes and returns plain typed values, so it can be
trained, evaluated and benchmarked from a notebook or a script as easily as from a worker.
"""
