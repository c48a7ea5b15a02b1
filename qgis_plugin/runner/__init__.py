"""The backend as a separate process: finding it, running a job, reading its progress lines, cancelling."""
