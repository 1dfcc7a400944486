"""Extractive answering, part by part: the offline model's reading of passages.

:mod:`graphwire.agents.extractive` composes an answer from these pieces, each with one job:
``sentences`` (passages as quotable sentences and table rows), ``figures`` (the kind of figure a
question asks for and the figures a sentence holds), ``questions`` (a question's parts, its
names and pronouns), ``terms`` (question words matched to the passages' words and weighed),
``reading`` (what one part asks, with its context), ``scoring`` (how a sentence meets it),
``selection`` (choosing the sentences for one part) and ``replies`` (the wording of answers that
say the documents don't say).

May import :mod:`graphwire.agents.text` and :mod:`graphwire.agents.prompts`; nothing else of ours.
"""

from __future__ import annotations
