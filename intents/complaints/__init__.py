"""Complaints in customer messages: whether a message is one, what it is about, and how serious.

- `cues`: detection (`is_complaint`): a negative message, or one that complains in so many words
  (a question such as "how do I get a refund?" is neither);
- `taxonomy` (with `taxonomy.json`): what a complaint can be about, `CATEGORIES`;
- `models`: the category models, zero-training prototypes and a trained logistic head;
- `severity`: low, medium, high or critical, with a short reason, from a few rules;
- `classifier`: `ComplaintClassifier` puts the three together behind `classify`;
- `training` and `metrics`: labelled airline complaints, training the head, measuring a model.

Import from the module that defines a name (`from intents.complaints.severity import
worst_complaint`): this package re-exports nothing, so loading the rules never loads the models.
"""
