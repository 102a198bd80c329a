// The HDF5 token dataset: round trip, windows, tokenizer check, and corrupt files refused
// with an InputError naming the file and the field (docs/design.md section 9, invariant 6).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/token_dataset.h"
#include "data_test_util.h"

namespace glm::data {
namespace {

const std::string kSha(64, 'a');
constexpr int kVocab = 100, kEop = 7;

// Three documents: [1 2 3], [4], [5 6 8 9 10 11]; with <eop> 13 tokens.
std::string write_sample(const std::string& path) {
  TokenDatasetWriter w(path, {kSha, kVocab, kEop, {"a.txt", "b/ü.txt"}});
  w.add_document(std::vector<std::int32_t>{1, 2, 3});
  w.add_document(std::vector<std::int32_t>{4});
  w.add_document(std::vector<std::int32_t>{5, 6, 8, 9, 10, 11});
  EXPECT_EQ(w.num_tokens(), 13);
  w.finalize();
  return path;
}

void expect_refused(const std::string& path, const std::string& field) {
  try {
    TokenDataset ds(path);
    ADD_FAILURE() << "opened a corrupt dataset (" << field << ")";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(field), std::string::npos) << msg;
  }
}

// Opens the file read-write for surgery with the HDF5 C API.
struct RawFile {
  hid_t id;
  explicit RawFile(const std::string& p) : id(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {}
  ~RawFile() { H5Fclose(id); }
  void set_int(const char* name, std::int64_t v) {
    H5Adelete(id, name);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(id, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Sclose(s);
  }
  void write_offsets(const std::vector<std::uint64_t>& v) {
    hid_t d = H5Dopen2(id, "doc_offsets", H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
  }
};

TEST(TokenDataset, WriteReadRoundTrip) {
  glm::testing::ScratchDir dir;
  TokenDataset ds(write_sample(dir / "d.h5"));
  EXPECT_EQ(ds.num_tokens(), 13);
  EXPECT_EQ(ds.num_documents(), 3);
  EXPECT_EQ(ds.vocab_size(), kVocab);
  EXPECT_EQ(ds.eop_id(), kEop);
  EXPECT_EQ(ds.tokenizer_sha256(), kSha);
  EXPECT_EQ(ds.source_files(), (std::vector<std::string>{"a.txt", "b/ü.txt"}));
  EXPECT_EQ(std::vector<std::uint64_t>(ds.doc_offsets().begin(), ds.doc_offsets().end()),
            (std::vector<std::uint64_t>{0, 4, 6, 13}));
  std::vector<std::int32_t> all(13);
  ds.read(0, 13, all.data());
  EXPECT_EQ(all, (std::vector<std::int32_t>{1, 2, 3, 7, 4, 7, 5, 6, 8, 9, 10, 11, 7}));
  // Windows of 5: [0,5) [5,10); the partial [10,13) is dropped.
  EXPECT_EQ(ds.num_windows(5), 2);
  std::vector<std::int32_t> w(5);
  ds.window(1, 5, w.data());
  EXPECT_EQ(w, (std::vector<std::int32_t>{7, 5, 6, 8, 9}));
  EXPECT_EQ(ds.num_windows(14), 0);
  EXPECT_THROW(ds.window(2, 5, w.data()), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "d.h5.tmp." + std::to_string(::getpid())));
}

TEST(TokenDataset, LargeStreamSpansSeveralChunks) {
  glm::testing::ScratchDir dir;
  TokenDatasetWriter w(dir / "big.h5", {kSha, 50000, 3, {}}, 4);
  std::vector<std::int32_t> doc;
  for (int i = 0; i < 100'000; ++i) doc.push_back((i * 7919) % 50000);
  w.add_document(doc);
  w.add_document(doc);
  w.finalize();
  TokenDataset ds(dir / "big.h5");
  ASSERT_EQ(ds.num_tokens(), 200'002);
  std::vector<std::int32_t> got(100'000);
  ds.read(100'001, 100'000, got.data());
  EXPECT_EQ(got, doc);
}

TEST(TokenDataset, EmptySplitIsValid) {
  glm::testing::ScratchDir dir;
  TokenDatasetWriter w(dir / "e.h5", {kSha, kVocab, kEop, {}});
  w.finalize();
  TokenDataset ds(dir / "e.h5");
  EXPECT_EQ(ds.num_tokens(), 0);
  EXPECT_EQ(ds.num_documents(), 0);
  EXPECT_EQ(ds.num_windows(4), 0);
}

TEST(TokenDataset, OtherTokenizerIsRefusedNamingBothChecksums) {
  glm::testing::ScratchDir dir;
  TokenDataset ds(write_sample(dir / "d.h5"));
  ds.expect_tokenizer(kSha);
  const std::string other(64, 'b');
  try {
    ds.expect_tokenizer(other);
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(kSha), std::string::npos);
    EXPECT_NE(msg.find(other), std::string::npos);
    EXPECT_NE(msg.find(dir / "d.h5"), std::string::npos);
  }
}

TEST(TokenDataset, CorruptFilesAreRefusedNamingFileAndField) {
  glm::testing::ScratchDir dir;
  const std::string good = write_sample(dir / "good.h5");
  auto copy = [&](const std::string& name) {
    std::filesystem::copy_file(good, dir / name);
    return dir / name;
  };
  {  // truncated
    const std::string p = dir / "truncated.h5";
    const std::string bytes = glm::testing::read_text(good);
    glm::testing::write_text(p, bytes.substr(0, bytes.size() / 2));
    expect_refused(p, "");
  }
  {  // not HDF5 at all
    const std::string p = dir / "text.h5";
    glm::testing::write_text(p, "hello");
    expect_refused(p, "");
  }
  expect_refused(dir / "absent.h5", "");
  {
    const std::string p = copy("no_num_tokens.h5");
    H5Adelete(RawFile(p).id, "num_tokens");
    expect_refused(p, "num_tokens");
  }
  {
    const std::string p = copy("no_format.h5");
    H5Adelete(RawFile(p).id, "format");
    expect_refused(p, "format");
  }
  {
    const std::string p = copy("version.h5");
    RawFile(p).set_int("format_version", 2);
    expect_refused(p, "format_version");
  }
  {
    const std::string p = copy("vocab.h5");
    RawFile(p).set_int("vocab_size", 10);  // token 11 is now out of range
    expect_refused(p, "tokens");
  }
  {
    const std::string p = copy("count.h5");
    RawFile(p).set_int("num_tokens", 12);
    expect_refused(p, "tokens");
  }
  {
    const std::string p = copy("not_monotone.h5");
    RawFile(p).write_offsets({0, 6, 4, 13});
    expect_refused(p, "doc_offsets");
  }
  {
    const std::string p = copy("short_end.h5");
    RawFile(p).write_offsets({0, 4, 6, 12});
    expect_refused(p, "doc_offsets");
  }
  {
    const std::string p = copy("no_tokens.h5");
    H5Ldelete(RawFile(p).id, "tokens", H5P_DEFAULT);
    expect_refused(p, "tokens");
  }
}

}  // namespace
}  // namespace glm::data
