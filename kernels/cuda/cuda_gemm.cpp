// cuBLAS / cuBLASLt GEMMs (contract in cuda_gemm.h).
#include "kernels/cuda/cuda_gemm.h"

#include <climits>

#include "core/error.h"
#include "kernels/check.h"
#include "kernels/cuda/cuda_stream.h"

namespace glm::kernels::cuda {
namespace {

// The dimensions of kernels/check.h, which cuBLAS also needs in int32.
void check_dims(const char* op, Trans ta, Trans tb, std::int64_t M, std::int64_t N, std::int64_t K,
                std::int64_t lda, std::int64_t ldb, std::int64_t ldc, std::int64_t batch,
                const void* A, const void* B, const void* C) {
  require_gemm_dims(op, ta, tb, M, N, K, lda, ldb, ldc, batch, A, B, C);
  for (std::int64_t v : {M, N, K, lda, ldb, ldc, batch})
    GLM_CHECK(v <= INT_MAX, "{}: dimension {} exceeds cuBLAS's int32 range", op, v);
}

cublasOperation_t op_of(Trans t) { return t == Trans::N ? CUBLAS_OP_N : CUBLAS_OP_T; }

cudaDataType_t cuda_type(DType t) {
  GLM_CHECK(t == DType::f16 || t == DType::bf16 || t == DType::f32,
            "cuda::gemm_lt: dtype {} not supported (f16, bf16, f32)", dtype_name(t));
  return t == DType::f16 ? CUDA_R_16F : t == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
}

// RAII for the cuBLASLt descriptors of one call.
struct LtMatmulDesc {
  cublasLtMatmulDesc_t desc = nullptr;
  ~LtMatmulDesc() {
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};
struct LtLayout {
  cublasLtMatrixLayout_t layout = nullptr;
  ~LtLayout() {
    if (layout) cublasLtMatrixLayoutDestroy(layout);
  }
};
struct LtPreference {
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtPreference() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
  }
};

// Column-major layout of a row-major matrix stored rows x cols with leading dimension ld:
// cuBLASLt sees it as cols x rows.
void make_layout(LtLayout& l, cudaDataType_t type, std::int64_t rows, std::int64_t cols,
                 std::int64_t ld, std::int64_t batch, std::int64_t stride) {
  check(cublasLtMatrixLayoutCreate(&l.layout, type, static_cast<std::uint64_t>(cols),
                                   static_cast<std::uint64_t>(rows), ld),
        "cublasLtMatrixLayoutCreate");
  if (batch > 1) {
    const int count = static_cast<int>(batch);
    check(cublasLtMatrixLayoutSetAttribute(l.layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                           sizeof(count)),
          "layout batch count");
    check(cublasLtMatrixLayoutSetAttribute(l.layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                           &stride, sizeof(stride)),
          "layout batch stride");
  }
}

}  // namespace

void check_gemm_args(const GemmArgs& g) {
  check_dims("cuda::gemm_f32", g.trans_a, g.trans_b, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.batch,
             g.A, g.B, g.C);
}

void check_lt_gemm_args(const LtGemmArgs& g) {
  check_dims("cuda::gemm_lt", g.trans_a, g.trans_b, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.batch,
             g.A, g.B, g.C);
  cuda_type(g.ab_type);
  cuda_type(g.c_type);
  // cuBLASLt's fp32-compute combinations: C is fp32 or of A and B's type.
  GLM_CHECK(g.c_type == DType::f32 || g.c_type == g.ab_type,
            "cuda::gemm_lt: {} A and B cannot write a {} C (fp32 or {})", dtype_name(g.ab_type),
            dtype_name(g.c_type), dtype_name(g.ab_type));
}

void gemm_f32(const GemmArgs& g) {
  check_gemm_args(g);
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  cublasHandle_t h = cublas_handle();
  // Row-major C (M x N) = op(A) op(B)  <=>  column-major C^T (N x M) = op(B)^T op(A)^T;
  // a row-major matrix read column-major is its transpose, so the ops carry over as they are.
  // K == 0 is handled by cuBLAS (C = beta * C).
  check(cublasSgemmStridedBatched(h, op_of(g.trans_b), op_of(g.trans_a), static_cast<int>(g.N),
                                  static_cast<int>(g.M), static_cast<int>(g.K), &g.alpha, g.B,
                                  static_cast<int>(g.ldb), g.stride_b, g.A, static_cast<int>(g.lda),
                                  g.stride_a, &g.beta, g.C, static_cast<int>(g.ldc), g.stride_c,
                                  static_cast<int>(g.batch)),
        "cublasSgemmStridedBatched");
}

std::uint32_t lt_alignment(const void* p, std::int64_t batch_stride_bytes) {
  std::uint64_t bits = reinterpret_cast<std::uintptr_t>(p) | 256u;
  if (batch_stride_bytes > 0) bits |= static_cast<std::uint64_t>(batch_stride_bytes);
  return static_cast<std::uint32_t>(bits & (~bits + 1));  // the lowest set bit
}

void gemm_lt(const LtGemmArgs& g) {
  check_lt_gemm_args(g);
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  const cudaDataType_t ab = cuda_type(g.ab_type), ct = cuda_type(g.c_type);
  GLM_CHECK(g.K > 0, "cuda::gemm_lt: K = 0 (an empty product) is not supported");
  const cublasComputeType_t compute = CUBLAS_COMPUTE_32F;  // fp32 accumulation, no TF32
  LtMatmulDesc desc;
  check(cublasLtMatmulDescCreate(&desc.desc, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // Column-major problem: D^T (N x M) = op(B)^T (N x K) op(A)^T (K x M).
  const cublasOperation_t opa = op_of(g.trans_b), opb = op_of(g.trans_a);
  check(cublasLtMatmulDescSetAttribute(desc.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof(opa)),
        "desc transa");
  check(cublasLtMatmulDescSetAttribute(desc.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof(opb)),
        "desc transb");
  if (g.bias) {
    // Column-major rows are the N output features: the bias is one value per n, broadcast
    // over the M rows of the row-major result.
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    check(
        cublasLtMatmulDescSetAttribute(desc.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)),
        "desc epilogue");
    check(cublasLtMatmulDescSetAttribute(desc.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias,
                                         sizeof(g.bias)),
          "desc bias pointer");
    const cudaDataType_t bt = ct;
    check(cublasLtMatmulDescSetAttribute(desc.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt,
                                         sizeof(bt)),
          "desc bias type");
  }
  // Stored (row-major) shapes: B is K x N (N x K when transposed), A is M x K (K x M).
  LtLayout la, lb, lc;
  const bool tb = g.trans_b == Trans::T, ta = g.trans_a == Trans::T;
  make_layout(la, ab, tb ? g.N : g.K, tb ? g.K : g.N, g.ldb, g.batch, g.stride_b);
  make_layout(lb, ab, ta ? g.K : g.M, ta ? g.M : g.K, g.lda, g.batch, g.stride_a);
  make_layout(lc, ct, g.M, g.N, g.ldc, g.batch, g.stride_c);

  cublasLtHandle_t h = cublaslt_handle();
  LtPreference pref;
  check(cublasLtMatmulPreferenceCreate(&pref.pref), "cublasLtMatmulPreferenceCreate");
  const std::uint64_t ws = kCublasLtWorkspaceBytes;
  check(cublasLtMatmulPreferenceSetAttribute(pref.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &ws, sizeof(ws)),
        "preference workspace");
  // The heuristic assumes 256-byte aligned operands unless told otherwise; a parameter's
  // gradient view inside the flat buffer is only 64-byte aligned, and an algorithm chosen
  // for 256 may then fail at launch or read misaligned vectors.
  const std::size_t eb = dtype_bytes(g.ab_type, 1), ec = dtype_bytes(g.c_type, 1);
  const std::uint32_t align[4] = {lt_alignment(g.B, g.batch > 1 ? g.stride_b * eb : 0),
                                  lt_alignment(g.A, g.batch > 1 ? g.stride_a * eb : 0),
                                  lt_alignment(g.C, g.batch > 1 ? g.stride_c * ec : 0),
                                  lt_alignment(g.C, g.batch > 1 ? g.stride_c * ec : 0)};
  const cublasLtMatmulPreferenceAttributes_t which[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i)
    check(cublasLtMatmulPreferenceSetAttribute(pref.pref, which[i], &align[i], sizeof(align[i])),
          "preference alignment");
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  check(cublasLtMatmulAlgoGetHeuristic(h, desc.desc, la.layout, lb.layout, lc.layout, lc.layout,
                                       pref.pref, 1, &heuristic, &found),
        "cublasLtMatmulAlgoGetHeuristic");
  GLM_CHECK(found > 0, "cuda::gemm_lt: no cuBLASLt algorithm for M={} N={} K={} ({} x {} -> {})",
            g.M, g.N, g.K, dtype_name(g.ab_type), dtype_name(g.ab_type), dtype_name(g.c_type));
  check(cublasLtMatmul(h, desc.desc, &g.alpha, g.B, la.layout, g.A, lb.layout, &g.beta, g.C,
                       lc.layout, g.C, lc.layout, &heuristic.algo, cublaslt_workspace(), ws,
                       current_stream()),
        "cublasLtMatmul");
}

}  // namespace glm::kernels::cuda
