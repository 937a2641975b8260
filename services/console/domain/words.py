"""Names said in words: the API's ``start_assessment`` is the button "Start assessment". The English words are
the message ids of the catalogue (services/console/translations), so the French comes from there."""

from __future__ import annotations

# Initialisms kept upper-case inside words.
_UPPER = {
    "nio": "NIO",
    "un": "UN",
    "pcc": "PCC",
    "sea": "SEA",
    "fpu": "FPU",
    "id": "ID",
    "iso": "ISO",
    "oios": "OIOS",
    "dna": "DNA",
    "sha256": "SHA-256",
}


def in_words(name: str) -> str:
    """``refer_for_investigation`` -> "Refer for investigation"; ``name_nio`` -> "Name NIO"."""
    words = [_UPPER.get(word, word) for word in name.split("_") if word]
    if not words:
        return name
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])
