"""DiffusionSat text-to-scene engine: prompt + place, date and GSD metadata -> a synthetic image."""
