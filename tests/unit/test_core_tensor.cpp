// Tensor views, allocator accounting and the HDF5 named-tensor files.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/allocator.h"
#include "core/error.h"
#include "core/h5_tensors.h"
#include "core/tensor.h"

namespace glm {
namespace {

TEST(Tensor, ViewsShareStorageAndTrackShape) {
  Tensor t = Tensor::zeros({4, 6}, DType::f32);
  EXPECT_TRUE(t.owns_storage());
  EXPECT_EQ(t.numel(), 24);
  Tensor row = t.select(2);
  EXPECT_EQ(row.shape(), (Shape{6}));
  row.data<float>()[3] = 5.f;
  EXPECT_EQ(t.data<float>()[2 * 6 + 3], 5.f);
  Tensor cols = t.slice(1, 1, 4);
  EXPECT_FALSE(cols.is_contiguous());
  EXPECT_EQ(cols.data<float>()[2 * 6 + 2], 5.f);  // slice element (2, 2) is t(2, 3)
  Tensor v = t.view({2, 12});
  EXPECT_EQ(v.data<float>()[12 + 3], 5.f);
  EXPECT_THROW(t.view({5, 5}), Error);
  EXPECT_THROW(t.data<std::int32_t>(), Error);
}

TEST(Tensor, WrapDoesNotOwnAndCopyFromCopies) {
  float buf[6] = {1, 2, 3, 4, 5, 6};
  Tensor w = Tensor::wrap(buf, {2, 3}, DType::f32);
  EXPECT_FALSE(w.owns_storage());
  Tensor c = w.clone();
  buf[0] = 100;
  EXPECT_EQ(c.data<float>()[0], 1.f);
  c.copy_from(w);
  EXPECT_EQ(c.data<float>()[0], 100.f);
  EXPECT_EQ(dtype_bytes(DType::i4, 5), 3u);
}

TEST(Allocator, CountsHostBytesInUseAndPeak) {
  auto before = memory_stats(DeviceKind::cpu).in_use;
  {
    Tensor t = Tensor::empty({1000}, DType::f32);
    EXPECT_GE(memory_stats(DeviceKind::cpu).in_use, before + 4000);
    EXPECT_GE(memory_stats(DeviceKind::cpu).peak, before + 4000);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw()) % kHostAlignment, 0u);
  }
  EXPECT_EQ(memory_stats(DeviceKind::cpu).in_use, before);
}

TEST(H5File, RoundTripsTensorsAndAttributes) {
  auto path = std::filesystem::temp_directory_path() / "glm_h5_roundtrip.h5";
  Tensor f = Tensor::empty({2, 3}, DType::f32);
  Tensor i = Tensor::empty({4}, DType::i32);
  for (int k = 0; k < 6; ++k) f.data<float>()[k] = 0.5f * k;
  for (int k = 0; k < 4; ++k) i.data<std::int32_t>()[k] = -k;
  {
    H5File out(path.string(), H5File::Mode::create);
    out.write("params/layers.0.w", f);
    out.write("batch/tokens", i);
    out.set_attr("config", "{\"a\": 1}");
  }
  H5File in(path.string(), H5File::Mode::read);
  Tensor f2 = in.read("params/layers.0.w");
  EXPECT_EQ(f2.shape(), f.shape());
  EXPECT_EQ(f2.data<float>()[5], 2.5f);
  EXPECT_EQ(in.read("batch/tokens").data<std::int32_t>()[3], -3);
  EXPECT_EQ(in.attr("config"), "{\"a\": 1}");
  EXPECT_EQ(in.list("params"), std::vector<std::string>{"layers.0.w"});
  EXPECT_FALSE(in.has("params/missing"));
  // rows [1, 2) of the [2, 3] tensor: its second row only; rows past the end are refused
  Tensor row = in.read_rows("params/layers.0.w", 1, 1);
  EXPECT_EQ(row.shape(), (Shape{1, 3}));
  EXPECT_EQ(row.data<float>()[0], 1.5f);
  EXPECT_EQ(row.data<float>()[2], 2.5f);
  EXPECT_EQ(in.read_rows("batch/tokens", 4, 0).numel(), 0);
  try {
    in.read_rows("params/layers.0.w", 1, 2);
    FAIL() << "rows past the end must throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rows [1, 3)"), std::string::npos) << e.what();
  }
  try {
    in.read("params/missing");
    FAIL() << "reading a missing dataset must throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("params/missing"), std::string::npos);
  }
  std::filesystem::remove(path);
}

TEST(H5File, MissingOrNonHdf5FileIsAnInputErrorNamingIt) {
  auto path = std::filesystem::temp_directory_path() / "glm_not_hdf5.h5";
  std::FILE* fp = std::fopen(path.c_str(), "w");
  std::fputs("not an hdf5 file", fp);
  std::fclose(fp);
  try {
    H5File f(path.string(), H5File::Mode::read);
    FAIL() << "opening a non-HDF5 file must throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace glm
