"""`gatehouse`: the command-line client pipelines use (register, jobs, promotions, audit).

It talks to the REST API only and imports nothing of the server, so it installs on its own
(`pip install .` from this repository gives the `gatehouse` command; `python -m gatehouse_cli`
works from a checkout).
"""
