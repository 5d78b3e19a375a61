"""Everything that writes the archive and the index, and the contracts the service shares."""
