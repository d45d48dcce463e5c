"""The spaCy pipeline behind PII detection: loaded once, reduced to NER, never downloaded.

The en_core_web_* pipelines are cut down to their `ner` component (tagger, parser and
lemmatizer cost most of the time and are not needed), run on numpy's matrix products rather
than blis's (see `_use_numpy_matmul`), plus a one-line component that sets
lemmas to lower-case words, which is what presidio's context matching compares. The
lemmatizer's word index is kept as a lexicon of ordinary English words before it is
dropped. A model that is not installed gives a blank tokenizer with NER off, logged as
`pii.ner_off`. Presidio itself is wired in `analyzer.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import spacy
import structlog
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Model, NumpyOps

log = structlog.get_logger(__name__)

_LEMMA_COMPONENT = "gateway_lower_lemma"
_NOT_NEEDED_PIPES = ("tagger", "parser", "lemmatizer", "attribute_ruler", "senter", "morphologizer")


@Language.component(_LEMMA_COMPONENT)
def _lower_lemma(doc: Doc) -> Doc:
    """Set each token's lemma to its lower-case text (presidio's context matching compares lemmas)."""
    for token in doc:
        token.lemma_ = token.lower_
    return doc


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The loaded spaCy pipeline, whether it has NER, and its lexicon of ordinary words."""

    nlp: Language
    ner_on: bool
    lexicon: frozenset[str]


def load_pipeline(model: str, *, language: str = "en") -> Pipeline:
    """The spaCy pipeline for `model` reduced to NER.

    The lemmatizer's word index (WordNet's nouns, verbs, adjectives and adverbs in the
    en_core_web_* pipelines) is kept as a lexicon of ordinary words before the lemmatizer is
    dropped. Falls back to a blank `language` tokenizer (NER off) when the model is not
    installed; never downloads.
    """
    installed = spacy.util.is_package(model) or Path(model).is_dir()
    lexicon: frozenset[str] = frozenset()
    if installed:
        nlp = spacy.load(model)
        lexicon = _lexicon_of(nlp)
        for name in _NOT_NEEDED_PIPES:
            if name in nlp.pipe_names:
                nlp.remove_pipe(name)
        # NER in the en_core_web_* pipelines has its own embedding; drop the shared one if unused.
        if "tok2vec" in nlp.pipe_names and not getattr(nlp.get_pipe("tok2vec"), "listening_components", True):
            nlp.remove_pipe("tok2vec")
        _use_numpy_matmul(nlp)
    else:
        nlp = spacy.blank(language)
    ner_on = "ner" in nlp.pipe_names
    if not ner_on:
        log.warning("pii.ner_off", model=model, installed=installed, reason="model missing or without ner")
    nlp.add_pipe(_LEMMA_COMPONENT)
    return Pipeline(nlp, ner_on, lexicon)


def _use_numpy_matmul(nlp: Language) -> None:
    """Run the pipeline's layers on numpy's BLAS instead of blis.

    blis picks its kernels from the CPU model and falls back to slow generic ones for CPUs it
    does not know: on this project's machines (AMD EPYC, family 25, as virtual machines report
    it) that made a 64x96 by 96x288 product 5x slower than numpy's, and NER ~30% slower. The
    parser's own inner loop still calls blis; that part cannot be switched from Python.
    """
    ops = NumpyOps(use_blis=False)
    for _, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if isinstance(model, Model):
            for node in model.walk():
                node.ops = ops


def _lexicon_of(nlp: Language) -> frozenset[str]:
    """Ordinary words from the pipeline's lemmatizer tables, or nothing if it has none."""
    if "lemmatizer" not in nlp.pipe_names:
        return frozenset()
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not lookups.has_table("lemma_index"):
        return frozenset()
    index = lookups.get_table("lemma_index")
    return frozenset(word for words in index.values() for word in words if "_" not in word)
