"""spikehls.board_configs."""
