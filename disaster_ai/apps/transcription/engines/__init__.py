"""Speech-to-text engines behind the ``dai_transcribe`` hook (faster-whisper is the default)."""
