"""Train the sentiment model (inbox/sentiment_model.json) on tests/data/sentiment_train.tsv.

    python -m bench.train_sentiment [--cv] [--out inbox/sentiment_model.json]

Multinomial logistic regression (scikit-learn, a dev dependency: the `test` extra; the app
reads the weights with pure Python) over inbox.sentiment_text's features of each message in
its language, the feature vector L2-normalised. --cv first prints 5-fold cross-validated
macro-F1 on the training set for each setting of the grid (C, character n-grams) and picks
the best (character n-grams only if they add CHAR_NGRAM_GAIN); without it the settings
below are used. The output is deterministic: the same data and code give the same file.
Never point it at the evaluation set."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from bench.sentiment_eval import DATA, EVAL_SET, LABELS, Labelled, read_labelled, score
from inbox.sentiment import MODEL_FORMAT, MODEL_PATH
from inbox.sentiment_text import features

TRAIN_SET = DATA / "sentiment_train.tsv"
C = 30.0  # chosen by --cv (see bench/README.md, "Sentiment (issue 13)")
CHAR_NGRAMS = False
GRID = [(c, chars) for chars in (False, True) for c in (1.0, 3.0, 10.0, 30.0, 100.0)]
# Character n-grams cost about 5x the time per message: taken only if they add this much.
CHAR_NGRAM_GAIN = 0.01
PRUNE = 0.01  # a feature whose (centred) weights are all smaller is left out
DIGITS = 4


def vectors(rows: Sequence[Labelled], char_ngrams: bool,
            lang_known: bool = True) -> list[dict[str, float]]:
    out = []
    for row in rows:
        found = features(row.text, row.lang if lang_known else None, char_ngrams)
        value = 1 / math.sqrt(len(found)) if found else 0.0
        out.append(dict.fromkeys(found, value))
    return out


def fit(x: list[dict[str, float]], y: list[str], c: float) -> tuple[DictVectorizer, Any]:
    vec = DictVectorizer()
    model = LogisticRegression(C=c, max_iter=5_000)
    model.fit(vec.fit_transform(x), y)
    return vec, model


def cross_validate(rows: Sequence[Labelled], c: float, char_ngrams: bool) -> dict[str, float]:
    """5-fold cross-validated macro-F1 per language and overall (and with the language
    unknown) on the training rows."""
    x = vectors(rows, char_ngrams)
    x_unknown = vectors(rows, char_ngrams, lang_known=False)
    y = [r.label for r in rows]
    strata = [f"{r.lang}-{r.label}" for r in rows]
    predicted = [""] * len(rows)
    predicted_unknown = [""] * len(rows)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=13).split(x, strata):
        vec, model = fit([x[i] for i in train], [y[i] for i in train], c)
        for target, source in ((predicted, x), (predicted_unknown, x_unknown)):
            for i, p in zip(test, model.predict(vec.transform([source[i] for i in test])),
                            strict=True):
                target[i] = p
    result = {"all": score(y, predicted).macro_f1,
              "all, language unknown": score(y, predicted_unknown).macro_f1}
    for lang in sorted({r.lang for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.lang == lang]
        result[lang] = score([y[i] for i in idx], [predicted[i] for i in idx]).macro_f1
    return result


def train(rows: Sequence[Labelled], c: float, char_ngrams: bool) -> dict[str, Any]:
    """The model file's content: labels, bias and the kept features' weights."""
    vec, model = fit(vectors(rows, char_ngrams), [r.label for r in rows], c)
    if tuple(model.classes_) != LABELS:
        raise ValueError(f"unexpected classes {model.classes_}")
    coef = model.coef_.T - model.coef_.T.mean(axis=1, keepdims=True)  # softmax-invariant
    keep = np.abs(coef).max(axis=1) >= PRUNE
    weights = {name: [round(float(w), DIGITS) for w in coef[i]]
               for i, name in enumerate(vec.get_feature_names_out()) if keep[i]}
    bias = model.intercept_ - model.intercept_.mean()
    return {"format": MODEL_FORMAT, "labels": list(LABELS), "char_ngrams": char_ngrams,
            "trained_on": TRAIN_SET.name, "rows": len(rows), "C": c,
            "bias": [round(float(b), DIGITS) for b in bias], "weights": weights}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cv", action="store_true", help="cross-validate the grid first")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="more training rows, e.g. `inbox sentiment-corrections --out "
                             "FILE` (agents' corrections); never the evaluation set")
    args = parser.parse_args(argv)
    if any(path.name == EVAL_SET.name for path in args.also):
        parser.error("the evaluation set is for measuring only, never for training")
    rows = read_labelled(TRAIN_SET)
    for path in args.also:
        rows += read_labelled(path)
    c, char_ngrams = C, CHAR_NGRAMS
    if args.cv:
        best = -1.0
        for grid_c, grid_chars in GRID:
            result = cross_validate(rows, grid_c, grid_chars)
            print(f"C={grid_c:g} char n-grams={grid_chars}: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))
            gain = result["all"] - (CHAR_NGRAM_GAIN if grid_chars else 0.0)
            if gain > best:
                best, c, char_ngrams = gain, grid_c, grid_chars
        print(f"chosen: C={c:g} char n-grams={char_ngrams}")
    model = train(rows, c, char_ngrams)
    args.out.write_text(json.dumps(model, ensure_ascii=False, sort_keys=True,
                                   separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(model['weights'])} features")


if __name__ == "__main__":
    main()
