#include "kernels/widen.h"

#include "core/error.h"
#include "kernels/convert.h"

namespace glm::kernels {

Wide::Wide(const Tensor& t, Use use) : original_(t), wide_(t), use_(use) {
  if (!t.raw() || !is_16bit(t)) return;
  GLM_CHECK(t.is_contiguous(), "a 16-bit operand must be contiguous, got {} with strides {}",
            t.describe(), shape_str(t.strides()));
  wide_ = Tensor::empty(t.shape(), DType::f32, t.device());
  copied_ = true;
  if (use_ != out) convert(wide_, original_);
}

Wide::Wide(const Tensor* t, Use use) : Wide(t ? *t : Tensor{}, use) { present_ = t != nullptr; }

void Wide::store() {
  GLM_CHECK(use_ != in, "Wide::store on an input");
  if (copied_) convert(original_, wide_);
}

}  // namespace glm::kernels
