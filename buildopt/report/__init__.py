"""Report stage: render pipeline results as table, markdown, json, sarif and the GitHub step summary."""
