#include "core/h5_tensors.h"

#include <cerrno>

#include <hdf5.h>

#include <cstring>

#include "core/error.h"
#include "core/fsync.h"
#include "core/h5_raii.h"

namespace glm {
namespace {

using h5::Handle;
using QuietH5 = h5::Quiet;

hid_t mem_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::u8: return H5T_NATIVE_UINT8;
    case DType::i8: return H5T_NATIVE_INT8;
    case DType::f16: return H5T_NATIVE_UINT16;  // raw bits; file type set below
    default: throw Error(fmt::format("HDF5 storage of {} tensors is not supported", dtype_name(t)));
  }
}

void make_parents(hid_t file, const std::string& name) {
  for (std::size_t pos = name.find('/', 1); pos != std::string::npos; pos = name.find('/', pos + 1)) {
    std::string g = name.substr(0, pos);
    if (H5Lexists(file, g.c_str(), H5P_DEFAULT) <= 0) {
      Handle h{H5Gcreate2(file, g.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
      if (h.id < 0) throw Error(fmt::format("cannot create HDF5 group {}", g));
    }
  }
}

// IEEE binary16 as an HDF5 float type (HDF5 1.10 has no predefined one); h5py and numpy
// read it as float16. Memory and file type are the same, so the raw bits pass through.
hid_t f16_type() {
  static hid_t t = [] {
    hid_t x = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(x, 15, 10, 5, 0, 10);
    H5Tset_size(x, 2);
    H5Tset_ebias(x, 15);
    return x;
  }();
  return t;
}

bool exists(hid_t file, const std::string& name) {
  // H5Lexists needs each intermediate link to exist: walk the path.
  std::size_t pos = 0;
  while ((pos = name.find('/', pos + 1)) != std::string::npos)
    if (H5Lexists(file, name.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0;
}

}  // namespace

H5File::H5File(const std::string& path, Mode mode) : path_(path) {
  QuietH5 quiet;
  file_ = mode == Mode::create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                               : H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0)
    throw InputError(fmt::format("{}: cannot {} HDF5 file", path,
                                 mode == Mode::create ? "create" : "open (missing or not HDF5)"));
}

H5File::~H5File() {
  if (file_ >= 0) H5Fclose(file_);
}

void H5File::close() {
  if (file_ < 0) return;
  QuietH5 quiet;
  errno = 0;
  const herr_t flushed = H5Fflush(file_, H5F_SCOPE_GLOBAL);
  const int err = errno;
  const herr_t closed = H5Fclose(file_);
  file_ = -1;
  if (flushed < 0 || closed < 0)
    throw SystemError(fmt::format("{}: cannot write the file: {}", path_,
                                  write_failure_reason(path_, err)));
}

void H5File::write(const std::string& name, const Tensor& t) {
  QuietH5 quiet;
  errno = 0;
  GLM_CHECK(t.device().is_cpu() && t.is_contiguous(), "H5 write of {}", t.describe());
  make_parents(file_, name);
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  if (dims.empty()) dims.push_back(1);
  Handle space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
  hid_t ftype = t.dtype() == DType::f16 ? f16_type() : mem_type(t.dtype());
  Handle ds{H5Dcreate2(file_, name.c_str(), ftype, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose};
  if (ds.id < 0)
    throw SystemError(fmt::format("{}: cannot create dataset {}: {}", path_, name,
                                  write_failure_reason(path_, errno)));
  hid_t mtype = t.dtype() == DType::f16 ? f16_type() : mem_type(t.dtype());
  if (H5Dwrite(ds.id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) < 0)
    throw SystemError(fmt::format("{}: cannot write dataset {}: {}", path_, name,
                                  write_failure_reason(path_, errno)));
}

bool H5File::has(const std::string& name) const {
  QuietH5 quiet;
  return exists(file_, name);
}

Tensor H5File::read(const std::string& name) const { return read_impl(name, -1, -1); }

Tensor H5File::read_rows(const std::string& name, std::int64_t begin, std::int64_t count) const {
  GLM_CHECK(begin >= 0 && count >= 0, "{}: rows [{}, {}) of '{}'", path_, begin, begin + count,
            name);
  return read_impl(name, begin, count);
}

// The whole dataset (begin < 0), or rows [begin, begin + count) of its first dimension
// through a hyperslab, so only those bytes are read.
Tensor H5File::read_impl(const std::string& name, std::int64_t begin, std::int64_t count) const {
  QuietH5 quiet;
  if (!exists(file_, name)) throw InputError(fmt::format("{}: no dataset '{}'", path_, name));
  Handle ds{H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose};
  if (ds.id < 0) throw InputError(fmt::format("{}: cannot open dataset '{}'", path_, name));
  Handle space{H5Dget_space(ds.id), H5Sclose};
  int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  Handle ftype{H5Dget_type(ds.id), H5Tclose};
  DType dt;
  H5T_class_t cls = H5Tget_class(ftype.id);
  std::size_t size = H5Tget_size(ftype.id);
  if (cls == H5T_FLOAT && size == 4) dt = DType::f32;
  else if (cls == H5T_FLOAT && size == 2) dt = DType::f16;
  else if (cls == H5T_INTEGER && size == 4) dt = DType::i32;
  else if (cls == H5T_INTEGER && size == 1)
    dt = H5Tget_sign(ftype.id) == H5T_SGN_NONE ? DType::u8 : DType::i8;
  else
    throw InputError(fmt::format("{}: dataset '{}' has an unsupported element type", path_, name));
  hid_t mtype = dt == DType::f16 ? f16_type() : mem_type(dt);
  if (begin < 0) {
    Tensor t = Tensor::empty(Shape(dims.begin(), dims.end()), dt);
    if (H5Dread(ds.id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) < 0)
      throw InputError(fmt::format("{}: cannot read dataset '{}' (corrupt file?)", path_, name));
    return t;
  }
  if (dims.empty() || static_cast<hsize_t>(begin + count) > dims[0])
    throw InputError(fmt::format("{}: dataset '{}' {} has no rows [{}, {})", path_, name,
                                 shape_str(Shape(dims.begin(), dims.end())), begin,
                                 begin + count));
  std::vector<hsize_t> start(dims.size(), 0), part = dims;
  start[0] = static_cast<hsize_t>(begin);
  part[0] = static_cast<hsize_t>(count);
  Tensor t = Tensor::empty(Shape(part.begin(), part.end()), dt);
  if (count == 0) return t;
  Handle mem{H5Screate_simple(static_cast<int>(part.size()), part.data(), nullptr), H5Sclose};
  if (H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start.data(), nullptr, part.data(), nullptr) < 0 ||
      H5Dread(ds.id, mtype, mem.id, space.id, H5P_DEFAULT, t.raw()) < 0)
    throw InputError(fmt::format("{}: cannot read rows [{}, {}) of dataset '{}' (corrupt file?)",
                                 path_, begin, begin + count, name));
  return t;
}

std::vector<std::string> H5File::list(const std::string& group) const {
  QuietH5 quiet;
  std::vector<std::string> names;
  if (!exists(file_, group)) return names;
  Handle g{H5Gopen2(file_, group.c_str(), H5P_DEFAULT), H5Gclose};
  H5G_info_t info;
  if (g.id < 0 || H5Gget_info(g.id, &info) < 0)
    throw InputError(fmt::format("{}: '{}' is not a group", path_, group));
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string s(static_cast<std::size_t>(n), '\0');
    H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), n + 1, H5P_DEFAULT);
    names.push_back(s);
  }
  return names;
}

void H5File::set_attr(const std::string& name, const std::string& value) {
  QuietH5 quiet;
  Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, value.size() + 1);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  if (H5Aexists(file_, name.c_str()) > 0) H5Adelete(file_, name.c_str());
  Handle a{H5Acreate2(file_, name.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, type.id, value.c_str()) < 0)
    throw Error(fmt::format("{}: cannot write attribute {}", path_, name));
}

std::string H5File::attr(const std::string& name) const {
  QuietH5 quiet;
  if (H5Aexists(file_, name.c_str()) <= 0)
    throw InputError(fmt::format("{}: missing attribute '{}'", path_, name));
  Handle a{H5Aopen(file_, name.c_str(), H5P_DEFAULT), H5Aclose};
  Handle ftype{H5Aget_type(a.id), H5Tclose};
  if (H5Tget_class(ftype.id) != H5T_STRING)
    throw InputError(fmt::format("{}: attribute '{}' is not a string", path_, name));
  if (H5Tis_variable_str(ftype.id) > 0) {
    char* s = nullptr;
    Handle mtype{H5Tget_native_type(ftype.id, H5T_DIR_ASCEND), H5Tclose};
    H5Aread(a.id, mtype.id, &s);
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  std::size_t n = H5Tget_size(ftype.id);
  std::string buf(n, '\0');
  H5Aread(a.id, ftype.id, buf.data());
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

void H5File::set_int_attr(const std::string& object, const std::string& name,
                          const std::vector<std::int64_t>& values) {
  QuietH5 quiet;
  if (!exists(file_, object)) throw Error(fmt::format("{}: no object '{}'", path_, object));
  Handle obj{H5Oopen(file_, object.c_str(), H5P_DEFAULT), H5Oclose};
  hsize_t n = values.size();
  Handle space{n ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_NULL), H5Sclose};
  if (H5Aexists(obj.id, name.c_str()) > 0) H5Adelete(obj.id, name.c_str());
  Handle a{H5Acreate2(obj.id, name.c_str(), H5T_STD_I64LE, space.id, H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose};
  if (a.id < 0 || (n && H5Awrite(a.id, H5T_NATIVE_INT64, values.data()) < 0))
    throw Error(fmt::format("{}: cannot write attribute {}/{}", path_, object, name));
}

std::vector<std::int64_t> H5File::int_attr(const std::string& object,
                                           const std::string& name) const {
  QuietH5 quiet;
  if (!exists(file_, object)) throw InputError(fmt::format("{}: no object '{}'", path_, object));
  Handle obj{H5Oopen(file_, object.c_str(), H5P_DEFAULT), H5Oclose};
  if (obj.id < 0 || H5Aexists(obj.id, name.c_str()) <= 0)
    throw InputError(fmt::format("{}: '{}' has no attribute '{}'", path_, object, name));
  Handle a{H5Aopen(obj.id, name.c_str(), H5P_DEFAULT), H5Aclose};
  Handle ftype{H5Aget_type(a.id), H5Tclose};
  Handle space{H5Aget_space(a.id), H5Sclose};
  if (H5Tget_class(ftype.id) != H5T_INTEGER)
    throw InputError(fmt::format("{}: attribute {}/{} is not an integer array", path_, object, name));
  hssize_t n = H5Sget_simple_extent_npoints(space.id);
  std::vector<std::int64_t> values(n > 0 ? static_cast<std::size_t>(n) : 0);
  if (n > 0 && H5Aread(a.id, H5T_NATIVE_INT64, values.data()) < 0)
    throw InputError(fmt::format("{}: cannot read attribute {}/{}", path_, object, name));
  return values;
}

}  // namespace glm
