#include "cli/h5_output.h"

#include <hdf5.h>

#include <stdexcept>
#include <vector>

namespace mgcli {

H5Output::H5Output(const std::string& path) : path_(path) {
  file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) throw std::runtime_error(path + ": cannot create HDF5 file");
}

H5Output::~H5Output() {
  if (file_ >= 0) H5Fclose(file_);
}

void H5Output::write(const std::string& name, const at::Tensor& t_in) {
  const bool integer = t_in.scalar_type() == at::kLong || t_in.scalar_type() == at::kInt;
  at::Tensor t = t_in.to(at::kCPU, integer ? at::kLong : at::kFloat).contiguous();
  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t type = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
  hid_t ds = H5Dcreate2(file_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const bool ok = ds >= 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()) >= 0;
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
  if (!ok) throw std::runtime_error(path_ + ": cannot write dataset " + name);
}

void H5Output::attribute(const std::string& name, const std::string& value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.empty() ? 1 : value.size());
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(file_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  const bool ok = attr >= 0 && H5Awrite(attr, type, value.c_str()) >= 0;
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  if (!ok) throw std::runtime_error(path_ + ": cannot write attribute " + name);
}

}  // namespace mgcli
