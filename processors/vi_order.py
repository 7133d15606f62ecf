"""Vietnamese alphabetical order: Đ after D, Ă and Â after A, tones after the base letter, numbers by value."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# The alphabet: a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y (f, j, w, z for foreign words).
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {letter: i for i, letter in enumerate(_ALPHABET)}
# Tone marks as combining characters, in dictionary order: none, huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
_PART = re.compile(r"\d+|\D")


def _letter_and_tone(char: str) -> tuple[str, int]:
    """A lower-case letter without its tone (keeping ă â ê ô ơ ư đ) and the tone's rank."""
    decomposed = unicodedata.normalize("NFD", char.lower())
    tone = 0
    kept = []
    for c in decomposed:
        if c in _TONES:
            tone = _TONES[c]
        else:
            kept.append(c)
    return unicodedata.normalize("NFC", "".join(kept)), tone


@lru_cache(maxsize=65_536)
def vi_sort_key(text: str) -> tuple:
    """A sort key ordering Vietnamese names as a dictionary does ("Phường 2" before "Phường 10")."""
    letters: list[tuple[int, int | str]] = []
    tones: list[int] = []
    for part in _PART.findall(unicodedata.normalize("NFC", text or "")):
        if part.isdigit():
            letters.append((0, int(part)))
            continue
        letter, tone = _letter_and_tone(part)
        rank = _RANK.get(letter)
        if rank is not None:
            letters.append((1, rank))
        elif letter.isalpha():
            letters.append((2, letter))
        else:
            letters.append((-1, letter))  # spaces and punctuation before any letter: "Phú Tân" < "Phúc"

        tones.append(tone)
    return (tuple(letters), tuple(tones), text)
