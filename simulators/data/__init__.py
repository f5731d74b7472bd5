"""Real logs: loaders (MovieLens, Open Bandit Dataset), the estimators that fit simulator
parameters to them, and the fidelity checks.

The shipped ml-latest-small copy carries the GroupLens licence (research and
non-commercial use; ``ml-latest-small/README.txt``), not recarena's Apache-2.0; the Open
Bandit sample is Apache-2.0 (``obd/NOTICE.md``).
"""

from recarena.simulators.data.movielens import MovieLens, load_movielens, shipped_movielens_path
from recarena.simulators.data.obd import OpenBanditLog, load_obd, shipped_obd_path

__all__ = ["MovieLens", "OpenBanditLog", "load_movielens", "load_obd", "shipped_movielens_path",
           "shipped_obd_path"]
