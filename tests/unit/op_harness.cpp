// The harness of op_harness.h: runs every registered row on the CPU and on CUDA, compares
// with the fp64 reference, the backward with central differences, CUDA with the CPU, and
// times the ops when GLM_OP_TIMING is set.
#include "op_harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <random>

#include "core/error.h"
#include "core/half.h"
#include "kernels/convert.h"
#include "tests/gpu_skip.h"
#include "tests/test_util.h"
#include "core/cuda_device.h"

namespace glm::ops {

std::vector<RowFactory>& registry() {
  static std::vector<RowFactory> rows;
  return rows;
}

std::vector<ErrorRowFactory>& error_registry() {
  static std::vector<ErrorRowFactory> rows;
  return rows;
}

Vec to_vec(const Tensor& t) {
  Vec v(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
      case DType::f32: v[i] = t.data<float>()[i]; break;
      case DType::i32: v[i] = t.data<std::int32_t>()[i]; break;
      case DType::f16: v[i] = t.data<std::uint16_t>()[i]; break;
      case DType::bf16: v[i] = bf16_to_float(t.data<std::uint16_t>()[i]); break;
      case DType::i8: v[i] = t.data<std::int8_t>()[i]; break;
      case DType::u8: v[i] = t.data<std::uint8_t>()[i]; break;
      default: ADD_FAILURE() << "to_vec: unsupported dtype"; return {};
    }
  }
  return v;
}

Tensor host_like(const Vec& v, const Shape& s) {
  Tensor t = Tensor::empty(s, DType::f32);
  for (std::size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

double half_bits_to_double(std::uint16_t h) {
  const int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  const double s = sign ? -1.0 : 1.0;
  if (e == 31) return m ? std::nan("") : s * INFINITY;
  if (e == 0) return s * std::ldexp(m, -24);  // subnormal: m * 2^-14 * 2^-10
  return s * std::ldexp(1024 + m, e - 25);    // (1 + m/1024) * 2^(e-15)
}

Tensor RowRun::put(const Tensor& host) const {
  if (storage == DType::f32 || host.dtype() != DType::f32) return host.to(device);
  Tensor t = Tensor::empty(host.shape(), storage);
  kernels::convert(t, host);
  return t.to(device);
}

namespace {

// The unit roundoff of a storage dtype (0 for f32): RNE stores within u relative.
double roundoff(DType t) {
  return t == DType::bf16 ? std::ldexp(1.0, -8) : t == DType::f16 ? std::ldexp(1.0, -11) : 0.0;
}

// A tolerance widened by k roundings of the storage.
Tol widened(Tol t, DType storage, double k) {
  const double u = roundoff(storage);
  return {t.rtol + k * u, t.atol + k * u};
}

// Central differences of the fp64 reference: step h = kFdStep * max(1, |x|). The truncation
// error is h^2 f'''/6 ~ 1e-10 and the rounding of L (2^-53 |L|) divided by 2h ~ 1e-11 |L|:
// the differences are exact to ~1e-9 relative, far below any fp32 kernel's error, so the
// gradient tolerance of a row is the fp32 bound of its backward alone.
constexpr double kFdStep = 1e-5;
// Inputs up to this many elements are differentiated at every element; larger ones at a
// seeded sample (plus the first and last element), which keeps the fp64 loops to seconds.
constexpr std::int64_t kFdAllElements = 512;
constexpr int kFdSamples = 48;

std::vector<std::int64_t> fd_indices(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> idx;
  if (n <= kFdAllElements) {
    for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  std::mt19937_64 rng(seed);
  idx = {0, n - 1};
  for (int s = 0; s < kFdSamples; ++s) idx.push_back(static_cast<std::int64_t>(rng() % n));
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  return idx;
}

bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// got against want on the elements `idx` (all when empty): exact, or within tol where the
// scale of atol is max |want| over the compared elements.
::testing::AssertionResult compare(const Vec& got, const Vec& want, Tol tol, bool exact,
                                   const std::vector<std::int64_t>& idx = {}) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  std::vector<std::int64_t> ix = idx;
  if (ix.empty())
    for (std::size_t i = 0; i < want.size(); ++i) ix.push_back(static_cast<std::int64_t>(i));
  double scale = 0;
  for (std::int64_t i : ix) scale = std::max(scale, std::abs(want[i]));
  std::int64_t bad = -1;
  double worst = -1;
  for (std::int64_t i : ix) {
    if (exact) {
      if (!same_value(got[i], want[i])) {
        bad = i;
        break;
      }
      continue;
    }
    const double err = std::abs(got[i] - want[i]), lim = tol.rtol * std::abs(want[i]) + tol.atol * scale;
    if (!(err <= lim) && (std::isnan(err) || err - lim > worst)) {
      worst = std::isnan(err) ? INFINITY : err - lim;
      bad = i;
    }
  }
  if (bad < 0) return ::testing::AssertionSuccess();
  auto f = ::testing::AssertionFailure();
  f << std::setprecision(9) << "element " << bad << ": got " << got[bad] << ", want " << want[bad];
  if (exact) return f << " (exact)";
  return f << " (scale " << scale << ", rtol " << tol.rtol << ", atol " << tol.atol << ")";
}

// A tensor's values on the host: 16-bit storage as fp32 (f16 inputs of the f32 rows stay
// bit patterns: those rows never run in 16-bit storage).
Vec values(const Tensor& t, DType storage) {
  Tensor h = t.to(Device::cpu());
  if (storage != DType::f32 && (h.dtype() == DType::f16 || h.dtype() == DType::bf16)) {
    Tensor f = Tensor::empty(h.shape(), DType::f32);
    kernels::convert(f, h);
    h = f;
  }
  return to_vec(h);
}

Vec out_to_vec(const Out& o, DType storage) {
  if (!o.compared()) return {};
  return o.t.defined() ? values(o.t, storage) : o.scalars;
}

RowRun make_run(const OpRow& row, Device dev, DType storage) {
  RowRun r{dev, {}, storage};
  for (const Tensor& t : row.inputs) r.in.push_back(r.put(t));
  return r;
}

// What one backend produced: outputs and gradients (value - start, divided by scale) on the host.
struct Result {
  std::vector<Vec> outs;
  std::vector<Vec> grads;      // (value - start) / scale: against central differences
  std::vector<Vec> raw_grads;  // value as the kernel left it: CUDA against the CPU
};

Result run_backend(const OpRow& row, Device dev, DType storage, const std::vector<Tensor>& w) {
  Result res;
  RowRun r = make_run(row, dev, storage);
  std::vector<Out> fwd = row.forward(r);
  for (const Out& o : fwd) res.outs.push_back(out_to_vec(o, storage));
  if (!row.backward) return res;
  std::vector<Tensor> wd;  // the cotangents stay fp32: the ops take mixed storage
  for (const Tensor& t : w) wd.push_back(t.to(dev));
  for (const Grad& g : row.backward(r, fwd, wd)) {
    Vec v = values(g.value, storage);
    res.raw_grads.push_back(v);
    if (g.start.defined()) {
      const Vec s = to_vec(g.start);
      for (std::size_t i = 0; i < v.size(); ++i) v[i] -= s[i];
    }
    for (double& x : v) x /= g.scale;
    res.grads.push_back(std::move(v));
  }
  return res;
}

double loss(const OpRow& row, const std::vector<Vec>& in, const std::vector<Vec>& w) {
  const std::vector<Vec> y = row.reference(in);
  double L = 0;
  for (std::size_t k = 0; k < row.loss_outputs.size(); ++k) {
    const Vec& yk = y[row.loss_outputs[k]];
    for (std::size_t i = 0; i < yk.size(); ++i) L += w[k][i] * yk[i];
  }
  return L;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// The median of `reps` timed calls of the forward and of the backward (inputs copied to the
// device outside the timed region; outputs are allocated inside it, as the model does not).
void time_row(const std::string& name, const OpRow& row, Device dev,
              const std::vector<Tensor>& w, int reps) {
  using clock = std::chrono::steady_clock;
  const auto sync = [dev] {
    if (dev.is_cuda()) cuda_synchronize();
  };
  std::vector<double> fwd_us, bwd_us;
  for (int i = 0; i <= reps; ++i) {  // the first call warms caches and the allocator
    RowRun r = make_run(row, dev, DType::f32);
    std::vector<Tensor> wd;
    for (const Tensor& t : w) wd.push_back(r.put(t));
    sync();
    auto t0 = clock::now();
    std::vector<Out> fwd = row.forward(r);
    sync();
    auto t1 = clock::now();
    if (i) fwd_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (!row.backward) continue;
    t0 = clock::now();
    row.backward(r, fwd, wd);
    sync();
    t1 = clock::now();
    if (i) bwd_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::cout << "[op timing] " << std::left << std::setw(44) << name << " " << std::setw(6)
            << device_name(dev) << " forward " << std::right << std::fixed << std::setprecision(1)
            << std::setw(10) << median(fwd_us) << " us";
  if (!bwd_us.empty()) std::cout << "  backward " << std::setw(10) << median(bwd_us) << " us";
  std::cout << "  (median of " << reps << ")\n" << std::defaultfloat;
}

struct Param {
  std::size_t row;
  bool cuda;
  DType storage = DType::f32;
};
void PrintTo(const Param& p, std::ostream* os) {
  *os << "row " << p.row << (p.cuda ? " on cuda" : " on cpu") << " in "
      << dtype_name(p.storage);
}

class OpHarness : public ::testing::TestWithParam<Param> {};

TEST_P(OpHarness, MatchesReference) {
  const RowFactory& factory = registry()[GetParam().row];
  const bool on_cuda = GetParam().cuda;
  const DType storage = GetParam().storage;
  if (on_cuda) SKIP_WITHOUT_GPU();
  OpRow row = factory.make();
  if (storage != DType::f32)  // the values the 16-bit storage holds
    for (Tensor& t : row.inputs)
      if (t.dtype() == DType::f32) kernels::round_to(t, storage);

  std::vector<Vec> in;
  for (const Tensor& t : row.inputs) in.push_back(to_vec(t));
  const std::vector<Vec> want = row.reference(in);
  ASSERT_EQ(want.size(), row.outputs.size()) << "reference outputs";

  // Cotangents, shaped like the CPU outputs.
  std::vector<Tensor> w;
  if (row.backward) {
    RowRun probe = make_run(row, Device::cpu(), DType::f32);
    const std::vector<Out> outs = row.forward(probe);
    for (std::size_t k = 0; k < row.loss_outputs.size(); ++k) {
      const Shape& s = outs[row.loss_outputs[k]].t.shape();
      w.push_back(row.cotangent ? row.cotangent(static_cast<int>(k), s)
                                : test::random_tensor(s, 7001 + k));
    }
  }

  const Device dev = on_cuda ? Device::cuda() : Device::cpu();
  const Result got = run_backend(row, dev, storage, w);
  ASSERT_EQ(got.outs.size(), row.outputs.size()) << "forward outputs";
  // 16-bit storage: exact outputs round once, the others once more than in fp32.
  const bool sixteen = storage != DType::f32;
  for (std::size_t k = 0; k < want.size(); ++k) {
    if (got.outs[k].empty()) continue;  // saved in another form on this backend
    const OutSpec& spec = row.outputs[k];
    EXPECT_TRUE(compare(got.outs[k], want[k], widened(spec.tol, storage, 2),
                        spec.exact && !sixteen))
        << spec.name << " against the fp64 reference";
  }

  if (row.backward) {
    std::vector<Vec> wv;
    for (const Tensor& t : w) wv.push_back(to_vec(t));
    ASSERT_EQ(got.grads.size(), row.diff.size()) << "backward gradients";
    for (std::size_t g = 0; g < row.diff.size(); ++g) {
      const int input = row.diff[g];
      const std::vector<std::int64_t> idx =
          fd_indices(static_cast<std::int64_t>(in[input].size()), 9001 + input);
      Vec fd(in[input].size(), 0.0);
      std::vector<Vec> x = in;
      for (std::int64_t e : idx) {
        const double x0 = x[input][e], h = kFdStep * std::max(1.0, std::abs(x0));
        x[input][e] = x0 + h;
        const double up = loss(row, x, wv);
        x[input][e] = x0 - h;
        const double down = loss(row, x, wv);
        x[input][e] = x0;
        fd[e] = (up - down) / (2 * h);
      }
      EXPECT_TRUE(compare(got.grads[g], fd, widened(row.grad_tol, storage, 8), false, idx))
          << "gradient of input " << input << " against central differences ("
          << idx.size() << " elements)";
    }
  }

  if (on_cuda) {  // and against the CPU result
    const Result cpu = run_backend(row, Device::cpu(), storage, w);
    for (std::size_t k = 0; k < row.outputs.size(); ++k) {
      if (got.outs[k].empty()) continue;
      const OutSpec& spec = row.outputs[k];
      EXPECT_TRUE(compare(got.outs[k], cpu.outs[k], widened(spec.cuda_tol, storage, 2),
                          spec.exact && !sixteen))
          << spec.name << " against the CPU";
    }
    for (std::size_t g = 0; g < got.grads.size(); ++g)
      EXPECT_TRUE(compare(got.raw_grads[g], cpu.raw_grads[g],
                          widened(row.grad_cuda_tol, storage, 8), false))
          << "gradient of input " << row.diff[g] << " against the CPU";
  }

  if (const char* t = std::getenv("GLM_OP_TIMING"); t && std::atoi(t) > 0)
    time_row(factory.name, row, dev, w, std::atoi(t));
}

// Every row of a registry on the CPU and (unless CPU-only) on CUDA, named <row>_cpu and
// <row>_cuda; op rows also in 16-bit storage (unless f32-only): <row>_cpu_bf16,
// <row>_cpu_fp16 and <row>_cuda_bf16 (fp16 on CUDA differs from bf16 only in the
// conversion kernel, which the convert rows test).
template <class Factory>
std::vector<Param> params(const std::vector<Factory>& rows) {
  std::vector<Param> p;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    bool cuda = true, sixteen = false;
    if constexpr (requires { rows[i].cpu_only; }) {
      cuda = rows[i].cpu_only.empty();
      sixteen = rows[i].f32_only.empty();
    }
    p.push_back({i, false});
    if (cuda) p.push_back({i, true});
    if (!sixteen) continue;
    p.push_back({i, false, DType::bf16});
    p.push_back({i, false, DType::f16});
    if (cuda) p.push_back({i, true, DType::bf16});
  }
  return p;
}
template <class Factory>
std::string param_name(const std::vector<Factory>& rows, const Param& p) {
  const std::string storage = p.storage == DType::bf16  ? "_bf16"
                              : p.storage == DType::f16 ? "_fp16"
                                                        : "";
  return rows[p.row].name + (p.cuda ? "_cuda" : "_cpu") + storage;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpHarness, ::testing::ValuesIn(params(registry())),
                         [](const auto& info) { return param_name(registry(), info.param); });

class OpHarnessErrors : public ::testing::TestWithParam<Param> {};

TEST_P(OpHarnessErrors, Throws) {
  const ErrorRowFactory& factory = error_registry()[GetParam().row];
  if (GetParam().cuda) SKIP_WITHOUT_GPU();
  ErrorRow row = factory.make();
  RowRun r{GetParam().cuda ? Device::cuda() : Device::cpu(), {}};
  for (const Tensor& t : row.inputs) r.in.push_back(t.to(r.device));
  try {
    row.call(r);
    ADD_FAILURE() << "no exception; expected one containing \"" << row.message << "\"";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(row.message), std::string::npos) << e.what();
  } catch (const Error& e) {
    EXPECT_FALSE(row.input_error) << "an Error that is not an InputError: " << e.what();
    EXPECT_NE(std::string(e.what()).find(row.message), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OpHarnessErrors, ::testing::ValuesIn(params(error_registry())),
                         [](const auto& info) { return param_name(error_registry(), info.param); });

}  // namespace
}  // namespace glm::ops
