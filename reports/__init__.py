"""Reports: metrics, forecast evaluation, charts and the HTML pages of a run."""
