"""The demo (`manage.py load_demo`, run by `make run`): users of every role, datasets, real trained
models, risk assessments, documents, a finding, real jobs and promotions. It sits on top of every
app (nothing imports it), so no app carries its demo wiring."""
