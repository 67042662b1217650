"""`bench.variant_app:app`: the provider with IDP_BENCH_OFF's layers off (bench.variants)."""

from bench.variants import create

app = create()
