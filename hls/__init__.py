"""spikehls.hls."""
