"""A live session: subscriber, pipeline, archive and dose estimator, no GUI."""
