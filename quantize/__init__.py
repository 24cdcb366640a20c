"""spikehls.quantize."""
