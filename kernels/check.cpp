#include "kernels/check.h"

#include <algorithm>

namespace glm::kernels {

Device op_device(std::string_view op, std::initializer_list<Arg> args) {
  const Arg* on_cuda = nullptr;
  for (const Arg& a : args)
    if (a.t && a.t->device().is_cuda()) {
      on_cuda = &a;
      break;
    }
  if (!on_cuda) return Device::cpu();
#ifndef GLM_WITH_CUDA
  throw Error(
      fmt::format("op {}: the CPU kernel got a device tensor {} ({}; this build has no "
                  "CUDA backend)",
                  op, on_cuda->t->describe(), on_cuda->name));
#else
  for (const Arg& a : args)
    GLM_CHECK(!a.t || a.t->device().is_cuda(),
              "cuda::{}: {} must be on a CUDA device like {}, got {}", op, a.name, on_cuda->name,
              a.t->describe());
  return on_cuda->t->device();
#endif
}

void require_gemm_dims(std::string_view op, Trans ta, Trans tb, std::int64_t M, std::int64_t N,
                       std::int64_t K, std::int64_t lda, std::int64_t ldb, std::int64_t ldc,
                       std::int64_t batch, const void* A, const void* B, const void* C) {
  GLM_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0, "{}: M={} N={} K={} batch={}", op, M, N, K,
            batch);
  const std::int64_t a_cols = ta == Trans::N ? K : M, b_cols = tb == Trans::N ? N : K;
  GLM_CHECK(lda >= std::max<std::int64_t>(a_cols, 1), "{}: lda={} < {} (M={} N={} K={})", op, lda,
            a_cols, M, N, K);
  GLM_CHECK(ldb >= std::max<std::int64_t>(b_cols, 1), "{}: ldb={} < {} (M={} N={} K={})", op, ldb,
            b_cols, M, N, K);
  GLM_CHECK(ldc >= std::max<std::int64_t>(N, 1), "{}: ldc={} < N={}", op, ldc, N);
  GLM_CHECK(C != nullptr, "{}: C is null", op);
  GLM_CHECK(K == 0 || M == 0 || N == 0 || (A != nullptr && B != nullptr), "{}: A or B is null", op);
}

}  // namespace glm::kernels
