"""featwright: an async CRUD service whose features are written as executable design docs."""
