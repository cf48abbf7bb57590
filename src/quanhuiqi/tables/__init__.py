"""Input tables: column names, readers, validation → rejects."""
