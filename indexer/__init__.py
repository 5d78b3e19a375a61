"""Everything that writes the archive and the index; models.py holds the types the service shares."""
