#include "sweep/h5.h"

#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace mg::sweep::h5 {

Quiet::Quiet() {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Quiet::~Quiet() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

namespace {

herr_t collect(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  std::string s = err->desc != nullptr ? err->desc : "";
  if (err->func_name != nullptr && *err->func_name != '\0') {
    s += std::string(" [") + err->func_name + "]";
  }
  out->push_back(std::move(s));
  return 0;
}

}  // namespace

std::string last_error() {
  std::vector<std::string> entries;  // innermost first
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect, &entries);
  H5Eclear2(H5E_DEFAULT);
  if (entries.empty()) return "";
  std::string s = entries.front();
  if (entries.size() > 1) s += "; " + entries.back();
  return s;
}

Id store_fapl() {
  Id fapl = plist(H5Pcreate(H5P_FILE_ACCESS));
  if (!fapl.valid()) throw std::runtime_error("HDF5: cannot create a file-access property list");
    // (false, true): no locks, and no error where the file system does not support them.
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
  H5Pset_file_locking(fapl, false, true);
#else
  // Older HDF5 has no property for it; the variable is read at every H5Fopen.
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
#endif
  // Low bound "earliest": superblock version 0, whose only field that HDF5 rewrites on a
  // read-write open (the write-access flag) has no checksum and is not enforced, so a writer
  // killed with -9 leaves a file that opens. With "latest" (superblock v3 in 1.10) the same
  // kill leaves "file is already open for write" and the store cannot be opened without
  // h5clear. High bound 1.8 keeps the file readable by HDF5 1.8 and later.
  H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18);
  return fapl;
}

}  // namespace mg::sweep::h5
