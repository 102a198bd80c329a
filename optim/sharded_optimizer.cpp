#include "optim/sharded_optimizer.h"

#include "core/allocator.h"
#include "core/error.h"
#include "kernels/convert.h"

namespace glm::optim {

ShardedOptimizer::ShardedOptimizer(std::shared_ptr<const modeldef::ParamLayout> layout,
                                   const AdamWConfig& config, Tensor params,
                                   const ShardingOptions& options, const Tensor* initial)
    : layout_(std::move(layout)),
      params_(std::move(params)),
      options_(options),
      range_(modeldef::full_range(*layout_)) {
  const std::int64_t total = layout_->total();
  if (options_.zero && options_.dp && options_.dp->size() > 1)
    plan_.emplace(total, options_.dp->size());
  GLM_CHECK(params_.numel() == total || (plan_ && params_.numel() == plan_->padded),
            "optimizer: parameters {} for a layout of {}{}", params_.describe(), total,
            plan_ ? fmt::format(" (padded {})", plan_->padded) : std::string());
  GLM_CHECK(kernels::is_float_storage(params_.dtype()) && params_.is_contiguous(),
            "optimizer: parameters {} must be contiguous f32, f16 or bf16", params_.describe());
  if (plan_ && params_.numel() == plan_->padded) {  // the padded buffer: gathers land in place
    params_padded_ = params_;
    params_ = params_.slice(0, 0, total);
  }
  if (initial)
    GLM_CHECK(initial->dtype() == DType::f32 && initial->numel() == total &&
                  initial->is_contiguous(),
              "optimizer: initial master values {} must be contiguous f32 with {} elements",
              initial->describe(), total);
  if (plan_) {
    // The exchange buffer lives with the gradients and master weights (CUDA with NCCL).
    shard_ = Tensor::zeros({plan_->shard}, DType::f32, params_.device());
    const int r = options_.dp->rank();
    range_ = {plan_->begin(r), plan_->end(r)};
  }
  // An fp32 buffer is the master (or, sharded, holds it: the gather writes this rank's
  // shard back unchanged); 16-bit parameters get an fp32 master of their own.
  separate_ = params_.dtype() != DType::f32;
  const Tensor& source = initial ? *initial : params_;
  Tensor own = source.slice(0, range_.begin, range_.end);
  if (separate_) {
    const MemoryScope scope(MemoryKind::master);
    master_ = Tensor::empty({range_.size()}, DType::f32, params_.device());
    kernels::convert(master_, own.device() == master_.device() ? own : own.to(master_.device()));
  } else {
    master_ = params_.slice(0, range_.begin, range_.end);
    if (initial && initial->raw() != params_.raw()) master_.copy_from(own);
  }
  adamw_ = std::make_unique<AdamW>(layout_, config, range_, master_);
}

Tensor ShardedOptimizer::reduce_grads(const Tensor& grads) {
  if (!plan_) return grads;
  // the model's padded buffer (ModelOptions::flat_capacity), reduce-scattered in place
  GLM_CHECK(grads.numel() == plan_->padded,
            "ZeRO-1: gradients of {} elements, expected the padded buffer of {} (layout {})",
            grads.numel(), plan_->padded, plan_->total);
  parallel::reduce_scatter_shard(*options_.dp, *plan_, grads.view({plan_->padded}), shard_);
  return shard_.slice(0, 0, range_.size());
}

void ShardedOptimizer::step(const Tensor& grads, double lr, float inv_scale) {
  if (plan_ && separate_ && params_padded_.defined()) {
    // 16-bit parameters: rounded into this rank's shard of the padded buffer by the update's
    // pass, then gathered in place as stored (the shard's padding tail stays zero).
    Tensor own = params_.slice(0, range_.begin, range_.end);
    adamw_->step(grads, lr, inv_scale, &own);
    const std::int64_t at = plan_->shard * options_.dp->rank();
    return parallel::all_gather_shards(*options_.dp, *plan_,
                                       params_padded_.slice(0, at, at + plan_->shard),
                                       params_padded_);
  }
  if (!plan_ && params_.dtype() != DType::f32) {
    adamw_->step(grads, lr, inv_scale, &params_);  // the 16-bit parameters in the same pass
    return;
  }
  adamw_->step(grads, lr, inv_scale);
  write_params();
}

namespace {

checkpoint::OptimizerTensors on_host(const checkpoint::OptimizerTensors& t) {
  if (t.master.device().is_cpu()) return t;
  return {t.layout, t.master.to(Device::cpu()), t.exp_avg.to(Device::cpu()),
          t.exp_avg_sq.to(Device::cpu()), t.range};
}

}  // namespace

void ShardedOptimizer::gather(const Tensor& shard, Tensor& full) {
  GLM_CHECK(shard.numel() == range_.size() && full.numel() == plan_->total,
            "ZeRO-1 gather: shard {} / full {}", shard.describe(), full.describe());
  // (copies across devices where they differ; the padding tail stays zero)
  shard_.slice(0, 0, shard.numel()).copy_from(shard.view({shard.numel()}));
  if (params_padded_.defined() && params_padded_.dtype() == DType::f32 &&
      full.raw() == params_.raw())  // fp32 parameters with the zero tail: in place
    return parallel::all_gather_shards(*options_.dp, *plan_, shard_, params_padded_);
  // Otherwise in chunks: every rank's [o, o + n) of its shard at once, each placed (rounded
  // into a 16-bit buffer) where it belongs, so no full fp32 copy of the buffer is made.
  const int dp = plan_->dp_size;
  const std::int64_t chunk = std::min(plan_->shard, parallel::kGatherChunk);
  if (!gather_buf_.defined())
    gather_buf_ = Tensor::empty({dp * chunk}, DType::f32, shard_.device());
  Tensor dst = full.view({plan_->total});
  for (std::int64_t o = 0; o < plan_->shard; o += chunk) {
    const std::int64_t n = std::min(chunk, plan_->shard - o);
    Tensor buf = gather_buf_.slice(0, 0, dp * n);
    parallel::all_gather_parts(*options_.dp, shard_.slice(0, o, o + n), buf);
    for (int r = 0; r < dp; ++r) {
      const std::int64_t begin = plan_->begin(r) + o;
      const std::int64_t end = std::min(begin + n, plan_->end(r));
      if (begin >= end) continue;
      Tensor to = dst.slice(0, begin, end);
      const Tensor from = buf.slice(0, r * n, r * n + (end - begin));
      if (to.dtype() == DType::f32) {
        to.copy_from(from);
      } else {
        kernels::convert(to, from.device() == to.device() ? from : from.to(to.device()));
      }
    }
  }
}

void ShardedOptimizer::write_params() {
  if (plan_) {
    gather(master_, params_);  // every rank's updated shard (rounded into a 16-bit buffer)
  } else if (separate_) {
    kernels::convert(params_, master_);
  }
}

checkpoint::OptimizerTensors ShardedOptimizer::state() {
  if (!plan_)
    return {layout_.get(), adamw_->master(), adamw_->exp_avg(), adamw_->exp_avg_sq(),
            std::nullopt};
  const std::int64_t total = layout_->total();
  checkpoint::OptimizerTensors t{layout_.get(), Tensor::empty({total}, DType::f32),
                                 Tensor::empty({total}, DType::f32),
                                 Tensor::empty({total}, DType::f32), std::nullopt};
  gather(adamw_->master(), t.master);
  gather(adamw_->exp_avg(), t.exp_avg);
  gather(adamw_->exp_avg_sq(), t.exp_avg_sq);
  return t;
}

checkpoint::OptimizerTensors ShardedOptimizer::own_state() {
  return on_host({layout_.get(), adamw_->master(), adamw_->exp_avg(), adamw_->exp_avg_sq(), range_});
}

void ShardedOptimizer::load_state(
    const std::function<void(const checkpoint::OptimizerTensors&)>& read) {
  const checkpoint::OptimizerTensors own{layout_.get(), adamw_->master(), adamw_->exp_avg(),
                                         adamw_->exp_avg_sq(), range_};
  if (own.master.device().is_cpu()) return read(own);  // straight into this optimizer's buffers
  const checkpoint::OptimizerTensors host = on_host(own);
  read(host);
  adamw_->master().copy_from(host.master);
  adamw_->exp_avg().copy_from(host.exp_avg);
  adamw_->exp_avg_sq().copy_from(host.exp_avg_sq);
}

}  // namespace glm::optim
