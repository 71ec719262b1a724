"""Scripts that synthesise data for, train and evaluate the app's embedded demo model (see README.md here)."""
