"""spikehls.training."""
