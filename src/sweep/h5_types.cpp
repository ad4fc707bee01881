#include "sweep/h5_types.h"

#include <stdexcept>

namespace mg::sweep {

hid_t file_type(ElemType t) {
  switch (t) {
    case ElemType::F32:
      return H5T_IEEE_F32LE;
    case ElemType::F64:
      return H5T_IEEE_F64LE;
    case ElemType::I64:
      return H5T_STD_I64LE;
    case ElemType::I32:
      return H5T_STD_I32LE;
    case ElemType::I16:
      return H5T_STD_I16LE;
    case ElemType::U8:
      return H5T_STD_U8LE;
  }
  throw std::logic_error("bad ElemType");
}

hid_t mem_type(ElemType t) {
  switch (t) {
    case ElemType::F32:
      return H5T_NATIVE_FLOAT;
    case ElemType::F64:
      return H5T_NATIVE_DOUBLE;
    case ElemType::I64:
      return H5T_NATIVE_INT64;
    case ElemType::I32:
      return H5T_NATIVE_INT32;
    case ElemType::I16:
      return H5T_NATIVE_INT16;
    case ElemType::U8:
      return H5T_NATIVE_UINT8;
  }
  throw std::logic_error("bad ElemType");
}

}  // namespace mg::sweep
