"""Project names for the upstream's list: hundreds of thousands, generated on the fly."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from collections.abc import Iterator

from packaging.utils import canonicalize_name

# Word lists kept as text, split once: far shorter than one quoted word per line.
ONSETS = (  # noqa: SIM905
    "b c d f g h j k l m n p r s t v w z br cr dr fl gr kl pl pr sk st tr sh ch th"
).split()
VOWELS = "a e i o u ai ea io ou y".split()  # noqa: SIM905
CODAS = ["", "", "n", "r", "s", "t", "x", "l", "m", "ck", "nd", "st", "ng"]
TECH_WORDS = (  # noqa: SIM905
    "api async auth aws azure cache cli client cloud config core data db django docs ext "
    "flask google graph http image json lib lint log ml parser plugin protocol query redis "
    "schema sdk server sql stream test text tools torch types utils web worker yaml"
).split()
FIRST_WORDS = 1200
SECOND_WORDS = 700
STRIDE_START = 7919


def _words(rng: random.Random, count: int, start: Iterable[str] = ()) -> list[str]:
    """``count`` unique lowercase words (no digits, no separators) made of syllables."""
    words = list(dict.fromkeys(start))
    seen = set(words)
    while len(words) < count:
        syllables = rng.choice((1, 2, 2, 3))
        word = "".join(
            rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _coprime_stride(modulus: int) -> int:
    """A stride that walks every residue of ``modulus`` once, so the order looks shuffled."""
    stride = STRIDE_START
    while math.gcd(stride, modulus) != 1:
        stride += 1
    return stride


def _styled(first: str, second: str, mix: int) -> str:
    """Vary separators and case the way real names do; the normalised form stays unique."""
    if mix < 20:
        return f"{first}_{second}"
    if mix < 30:
        return f"{first}.{second}"
    if mix < 45:
        return f"{first.capitalize()}-{second.capitalize()}"
    return f"{first}-{second}"


def generate_names(n: int, seed: int = 0) -> Iterator[str]:
    """Yield ``n`` plausible, unique (after normalisation) project names, deterministically.

    Only two small word lists are held; name ``i`` is computed from ``i``.

    :param n: how many names to yield.
    :param seed: another seed gives other names.
    """
    rng = random.Random(seed)
    firsts = _words(rng, FIRST_WORDS)
    seconds = _words(rng, SECOND_WORDS, TECH_WORDS)
    block = len(firsts) * len(seconds)
    stride = _coprime_stride(block)
    for i in range(n):
        repeat, position = divmod(i, block)
        j = position * stride % block
        suffix = str(repeat + 1) if repeat else ""
        mix = (j * 2654435761 >> 7) & 0xFF
        yield _styled(firsts[j % len(firsts)], seconds[j // len(firsts)] + suffix, mix)


def list_entries(
    known: Iterable[tuple[str, int]], generated: int, seed: int
) -> Iterator[tuple[str, int]]:
    """``(name, serial)`` for the known projects, then ``generated`` names that do not clash."""
    known = list(known)
    taken = {canonicalize_name(name) for name, _ in known}
    yield from known
    for name in generate_names(generated, seed):
        if canonicalize_name(name) not in taken:
            yield name, 1
