"""The ML side of the desk: embeddings and FAQ retrieval with the answer gate (`retrieval`, `gate`),
intent classification (`classifier`, `training`), answer generation (`generation/`), sentiment
(`sentiment/`) and complaints (`complaints/`) of customer messages, and the learning loop's data
and decisions (`learning`). The intent and sentiment classifiers share one trainer
(`encoder_training`).

Nothing in this package imports Django: it takes and returns plain typed values, so it can be
trained, evaluated and benchmarked from a notebook or a script as easily as from a worker.
"""
