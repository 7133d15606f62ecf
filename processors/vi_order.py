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


_SORT_PARTS: dict[str, tuple[tuple[int, int | str], int]] = {}  # a non-digit character: its entry and tone


def _sort_part(part: str) -> tuple[tuple[int, int | str], int]:
    """One non-digit character's place in the key: (kind, rank or letter) and its tone's rank."""
    letter, tone = _letter_and_tone(part)
    rank = _RANK.get(letter)
    if rank is not None:
        entry: tuple[int, int | str] = (1, rank)
    elif letter.isalpha():
        entry = (2, letter)
    else:
        entry = (-1, letter)  # spaces and punctuation before any letter: "Phú Tân" < "Phúc"
    if len(_SORT_PARTS) < 65_536:
        _SORT_PARTS[part] = (entry, tone)
    return entry, tone


_SORT_WORDS: dict[str, tuple[list[tuple[int, int | str]], list[int]]] = {}  # a word's entries and tones


def _sort_word(word: str) -> tuple[list[tuple[int, int | str]], list[int]]:
    """A space-free piece of a name: its entries (digit runs by value) and the tones of its characters."""
    known = _SORT_WORDS.get(word)
    if known is not None:
        return known
    letters: list[tuple[int, int | str]] = []
    tones: list[int] = []
    for part in _PART.findall(word):
        if part.isdigit():
            letters.append((0, int(part)))
            continue
        entry, tone = _SORT_PARTS.get(part) or _sort_part(part)
        letters.append(entry)
        tones.append(tone)
    if len(_SORT_WORDS) < 65_536:
        _SORT_WORDS[word] = (letters, tones)
    return letters, tones


@lru_cache(maxsize=65_536)
def vi_sort_key(text: str) -> tuple:
    """A sort key ordering Vietnamese names as a dictionary does ("Phường 2" before "Phường 10")."""
    space, space_tone = _SORT_PARTS.get(" ") or _sort_part(" ")
    letters: list[tuple[int, int | str]] = []
    tones: list[int] = []
    # Word by word (a space never joins a run of digits): names share their words ("Xã", "Phường", "Tân").
    for n, word in enumerate(unicodedata.normalize("NFC", text or "").split(" ")):
        if n:
            letters.append(space)
            tones.append(space_tone)
        word_letters, word_tones = _sort_word(word)
        letters += word_letters
        tones += word_tones
    return (tuple(letters), tuple(tones), text)
