"""Sentiment of customer messages: negative, neutral or positive, with a score from -1 to 1.

- `scorers`: two scorers behind one interface, `SentimentScorer`:
  - `LexiconSentimentScorer`: VADER's rule-based lexicon. Needs no training, so it is the fallback
    before any model is trained, and the baseline a trained model must beat.
  - `EncoderSentimentScorer`: a fine-tuned sentence encoder (by default the bundled MiniLM) with a
    three-way linear head and a temperature fitted on held-out data, written by `training`.
- `conversations`: how a conversation's sentiment, and whether to flag it, follow from its
  messages'.
- `datasets`: the labelled data sets the scorers are trained and measured on.
- `training`: fine-tuning and calibrating the encoder scorer (the shared trainer,
  `intents.encoder_training`).
- `evaluation`: the figures a scorer is judged by, and the baselines.

Import from the module that defines a name: this package re-exports nothing.
"""
