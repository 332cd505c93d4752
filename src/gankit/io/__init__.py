"""Files of a run: atomic writes, the metrics log, the run directory and the resume rules."""
