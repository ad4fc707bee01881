// The HDF5 types of the store's element types: little-endian in the file (so a
// store reads the same on any machine), native in memory.
#pragma once

#include <hdf5.h>

#include "sweep/store.h"

namespace mg::sweep {

hid_t file_type(ElemType t);
hid_t mem_type(ElemType t);

}  // namespace mg::sweep
