"""Hooks of the call-transcription app, registered when the app loads.

The app adds these specifications to the plugin manager from its ``dai_add_hookspecs``; while
the app is disabled they do not exist. docs/plugins.md documents each one.
"""

from disaster_ai import hookspec


@hookspec(firstresult=True)
def dai_transcribe(audio, options):
    """Transcribe one call recording. ``audio`` is 16 kHz mono float32 numpy samples;
    ``options`` is a :class:`disaster_ai.apps.transcription.types.TranscribeOptions` (language,
    beam size, VAD, the gazetteer prompt, caps, ``engine`` = the configured
    ``TRANSCRIPTION_ENGINE``). Return a :class:`~disaster_ai.apps.transcription.types.Transcript`,
    or None when ``options.engine`` is not yours. Load your model once per process.

    firstresult: stops at the first non-None result. The core default (trylast) is
    faster-whisper with the packaged Whisper base weights."""


@hookspec
def dai_place_names(municipality):
    """Return a list of :class:`disaster_ai.apps.transcription.types.PlaceName` (name, code,
    kind, readings) that place resolution in call transcripts matches against, for the named
    municipality. The core default lists the active places layer (町丁目) and the shelters with
    their ``name_kana``; add districts, landmarks or local readings here."""


@hookspec(firstresult=True)
def dai_score_texts(audio, texts, options):
    """Say how well each of ``texts`` fits ``audio`` (16 kHz mono float32, at most 30 s) by your
    engine: a list of floats in the same order, higher is better, comparable between the texts
    of one call only (faster-whisper gives the sum of the tokens' log probabilities). The
    acoustic place check (``apps/transcription/acoustic.py``) puts each candidate town into the
    transcript and keeps the one the caller said. Return None when ``options.engine`` is not
    yours or your engine cannot score; the check is then skipped.

    firstresult: stops at the first non-None result. The core default (trylast) scores with
    faster-whisper."""
