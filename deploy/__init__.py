"""Deploy tools, run from the repository root (``python -m deploy.scf_deploy``). Not part of the function:
packaging/manifest.txt does not list them, so no zip holds them, and pyproject.toml installs only cos2oms."""
