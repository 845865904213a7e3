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
