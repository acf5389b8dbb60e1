"""Import jobs: files loaded into a warehouse table by merge, append or overwrite."""
