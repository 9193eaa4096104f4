"""Benchmarks other apps add to `fengqiao bench` (the command lives in fengqiao.areas; apps register theirs in
`AppConfig.ready`): name -> (add_arguments(parser), run(out, **options), one-line summary)."""

BENCHMARKS: dict[str, tuple] = {}


def register(name, add_arguments, run, summary):
    BENCHMARKS[name] = (add_arguments, run, summary)
