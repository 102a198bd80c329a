#include "parallel/communicator.h"

namespace glm::parallel {

const char* comm_op_name(CommOp op) {
  switch (op) {
    case CommOp::all_reduce: return "all_reduce";
    case CommOp::reduce_scatter: return "reduce_scatter";
    case CommOp::all_gather: return "all_gather";
    case CommOp::broadcast: return "broadcast";
    case CommOp::send: return "send";
    case CommOp::recv: return "recv";
    case CommOp::barrier: return "barrier";
  }
  return "?";
}

namespace {
struct FinishedWork final : CommWork {
  void wait() override {}
};
}  // namespace

std::unique_ptr<CommWork> Communicator::all_reduce_sum_start(std::span<float> data) {
  all_reduce_sum(data);
  return std::make_unique<FinishedWork>();
}

std::uint64_t CommStats::total_bytes_sent() const {
  std::uint64_t s = 0;
  for (auto b : bytes_sent) s += b;
  return s;
}

}  // namespace glm::parallel
