"""``python benchmarks/zoo_gmm.py [--generations G] [--out PATH]``: the reference
Gaussian-mixture collapse run of issue 7 (:mod:`kernelcollapse.bench.zoo_gmm`)."""

from kernelcollapse.bench.zoo_gmm import main

if __name__ == "__main__":
    raise SystemExit(main())
