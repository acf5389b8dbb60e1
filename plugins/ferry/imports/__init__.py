"""Import jobs: files from SFTP, S3 or a drop folder loaded into a warehouse table.

ferry.imports.files finds, fetches and files away the source files; ferry.imports.load
reads, validates and loads them in one transaction. The steps of a run are in
ferry.pipeline_imports.
"""
