// RAII for the HDF5 C API, shared by every file format built on it (tensor files,
// token datasets, checkpoints): handles that close themselves, and a scope that keeps
// HDF5 from printing its own error stack (our errors name the file and field instead).
#pragma once

#include <hdf5.h>

namespace glm::h5 {

// Silences HDF5's error-stack printing while alive.
struct Quiet {
  H5E_auto2_t fn;
  void* data;
  Quiet() {
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Quiet() { H5Eset_auto2(H5E_DEFAULT, fn, data); }
  Quiet(const Quiet&) = delete;
  Quiet& operator=(const Quiet&) = delete;
};

// An HDF5 handle closed with its own function (H5Dclose, H5Gclose, ...) at scope exit.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id >= 0) close(id);
  }
};

}  // namespace glm::h5
