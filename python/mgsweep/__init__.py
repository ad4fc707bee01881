"""Reader of mgsweep's HDF5 stores, and the report (`mgsweep report`, python -m mgsweep.report).

    import mgsweep
    st = mgsweep.open_store("results/demo.h5")          # an xarray DataTree, lazy
    st["interventions"].effect.sel(technique="replace").mean(["pair", "prompt"])
"""

from .schema import StoreSchemaError
from .store import open_store, progress, unstack_targets

__all__ = ["open_store", "progress", "unstack_targets", "StoreSchemaError"]
__version__ = "0.1.0"
