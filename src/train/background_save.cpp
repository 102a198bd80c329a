#include "train/background_save.h"

#include "core/test_hold.h"

namespace glm::train {

BackgroundSave::BackgroundSave(checkpoint::PhasedSave save, optim::OptimizerTensors snapshot,
                               double blocked_seconds)
    : save_(std::move(save)), snapshot_(std::move(snapshot)), blocked_seconds_(blocked_seconds) {
  writer_ = std::thread([this] {
    // (tests/faults: a kill lands while the file is being written in the background)
    hold_if_testing("background_write", save_.step());
    save_.write(snapshot_);  // a failure is kept for finish()
    written_.store(true);
  });
}

BackgroundSave::~BackgroundSave() {
  if (writer_.joinable()) writer_.join();
}

checkpoint::SaveResult BackgroundSave::finish() {
  if (writer_.joinable()) writer_.join();
  return save_.finish();
}

}  // namespace glm::train
