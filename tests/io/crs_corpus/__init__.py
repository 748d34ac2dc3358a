"""The coordinate-check corpus: files of random and real (OSM) positions in WGS84, GCJ-02 and BD-09,
declared right or wrong, generated deterministically (see :mod:`crs_corpus.corpus`)."""

from .corpus import (
    SEED,
    CorpusFeatures,
    CorpusFile,
    build_corpus,
    load_features,
    region_corpus,
    write_corpus,
)

__all__ = [
    "SEED",
    "CorpusFeatures",
    "CorpusFile",
    "build_corpus",
    "load_features",
    "region_corpus",
    "write_corpus",
]
