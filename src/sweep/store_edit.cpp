#include "sweep/store_edit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "sweep/h5_types.h"

namespace mg::sweep {
namespace fs = std::filesystem;

namespace {

// One element of type t holding `v` (native byte order), for the fill value.
std::vector<uint8_t> element_of(ElemType t, double v) {
  std::vector<uint8_t> b(elem_size(t));
  auto put = [&](auto x) { std::memcpy(b.data(), &x, sizeof x); };
  switch (t) {
    case ElemType::F32:
      put(static_cast<float>(v));
      break;
    case ElemType::F64:
      put(v);
      break;
    case ElemType::I64:
      put(static_cast<int64_t>(v));
      break;
    case ElemType::I32:
      put(static_cast<int32_t>(v));
      break;
    case ElemType::I16:
      put(static_cast<int16_t>(v));
      break;
    case ElemType::U8:
      put(static_cast<uint8_t>(v));
      break;
  }
  return b;
}

}  // namespace

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), path + ": cannot open");
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory; the rename itself is done by then.
  if (rc != 0 && !(directory && (err == EINVAL || err == ENOTSUP)))
    throw std::system_error(err, std::generic_category(), path + ": fsync failed");
}

StoreEdit::StoreEdit(const std::string& path) : path_(path) {
  h5::Quiet quiet;
  h5::Id fapl = h5::store_fapl();
  file_ = h5::file(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl));
  if (!file_.valid()) fail("cannot open it for writing");
}

bool StoreEdit::exists(const std::string& p) const {
  h5::Quiet quiet;
  // H5Lexists needs every prefix to exist.
  for (size_t slash = p.find('/', 1);; slash = p.find('/', slash + 1)) {
    const std::string prefix = p.substr(0, slash);
    if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
  }
}

void StoreEdit::remove(const std::string& p) {
  h5::Quiet quiet;
  if (H5Ldelete(file_, p.c_str(), H5P_DEFAULT) < 0) fail("cannot unlink " + p);
}

void StoreEdit::group(const std::string& p) {
  h5::Quiet quiet;
  h5::Id gcpl = h5::plist(H5Pcreate(H5P_GROUP_CREATE));
  H5Pset_obj_track_times(gcpl, false);
  for (size_t slash = p.find('/', 1);; slash = p.find('/', slash + 1)) {
    const std::string g = p.substr(0, slash);
    if (!exists(g)) {
      h5::Id id = h5::group(H5Gcreate2(file_, g.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT));
      if (!id.valid()) fail("cannot create group " + g);
    }
    if (slash == std::string::npos) return;
  }
}

void StoreEdit::dataset(const std::string& p, ElemType t, const std::vector<uint64_t>& shape,
                        double fill, const std::string& doc) {
  group(p.substr(0, p.rfind('/')));
  h5::Quiet quiet;
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  h5::Id space =
      h5::dataspace(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::Id dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_layout(dcpl, H5D_CONTIGUOUS);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  H5Pset_obj_track_times(dcpl, false);
  const std::vector<uint8_t> f = element_of(t, fill);
  H5Pset_fill_value(dcpl, mem_type(t), f.data());
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
  h5::Id ds = h5::dataset(
      H5Dcreate2(file_, p.c_str(), file_type(t), space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!ds.valid()) fail("cannot create dataset " + p);
  if (!doc.empty()) attribute(ds, "doc", doc);
  datasets_[p] = {std::move(ds), t, shape};
}

void StoreEdit::open_dataset(const std::string& p) {
  h5::Quiet quiet;
  h5::Id ds = h5::dataset(H5Dopen2(file_, p.c_str(), H5P_DEFAULT));
  if (!ds.valid()) fail("cannot open dataset " + p);
  h5::Id space = h5::dataspace(H5Dget_space(ds));
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  h5::Id type = h5::datatype(H5Dget_type(ds));
  ElemType t = ElemType::F32;
  bool known = false;
  for (ElemType c :
       {ElemType::F32, ElemType::F64, ElemType::I64, ElemType::I32, ElemType::I16, ElemType::U8})
    if (H5Tequal(type, file_type(c)) > 0) t = c, known = true;
  if (!known) fail(p + " has a type the store does not write");
  datasets_[p] = {std::move(ds), t, std::vector<uint64_t>(dims.begin(), dims.end())};
}

void StoreEdit::write(const std::string& p, const std::vector<uint64_t>& offset,
                      const std::vector<uint64_t>& count, const void* data) {
  h5::Quiet quiet;
  const Made& d = datasets_.at(p);
  const std::vector<hsize_t> off(offset.begin(), offset.end()), cnt(count.begin(), count.end());
  h5::Id fspace = h5::dataspace(H5Dget_space(d.id));
  h5::Id mspace =
      h5::dataspace(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr));
  if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr) < 0 ||
      H5Dwrite(d.id, mem_type(d.type), mspace, fspace, H5P_DEFAULT, data) < 0)
    fail("cannot write " + p);
}

void StoreEdit::write_all(const std::string& p, const void* data) {
  const Made& d = datasets_.at(p);
  write(p, std::vector<uint64_t>(d.shape.size(), 0), d.shape, data);
}

void StoreEdit::attribute(const std::string& obj, const std::string& name,
                          const std::string& value) {
  h5::Quiet quiet;
  h5::Id o = h5::object(H5Oopen(file_, obj.c_str(), H5P_DEFAULT));
  if (!o.valid()) fail("cannot open " + obj);
  attribute(o, name, value);
}

void StoreEdit::close_and_sync() {
  h5::Quiet quiet;
  datasets_.clear();
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail("H5Fflush failed");
  if (!file_.close()) fail("H5Fclose failed");
  fsync_path(path_, false);
}

void StoreEdit::attribute(hid_t obj, const std::string& name, const std::string& value) {
  h5::Id type = h5::datatype(H5Tcopy(H5T_C_S1));
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  h5::Id space = h5::dataspace(H5Screate(H5S_SCALAR));
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  h5::Id attr = h5::attribute(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  const char* p = value.c_str();
  if (!attr.valid() || H5Awrite(attr, type, &p) < 0) fail("cannot write attribute " + name);
}

void StoreEdit::fail(const std::string& what) const {
  const std::string err = h5::last_error();
  throw std::runtime_error(path_ + ": " + what + (err.empty() ? "" : " (" + err + ")"));
}

void edit_store_copy(const std::string& store, const std::string& suffix,
                     const std::function<void(StoreEdit&)>& edit) {
  const std::string tmp = store + suffix;
  std::error_code ec;
  fs::remove(tmp, ec);
  try {
    fs::copy_file(store, tmp, fs::copy_options::overwrite_existing);
    StoreEdit out(tmp);
    edit(out);
    out.close_and_sync();
    if (::rename(tmp.c_str(), store.c_str()) != 0)
      throw std::system_error(errno, std::generic_category(),
                              store + ": cannot rename " + tmp + " over it");
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  const fs::path dir = fs::path(store).parent_path();
  fsync_path(dir.empty() ? "." : dir.string(), true);
}

}  // namespace mg::sweep
