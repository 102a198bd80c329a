#include "train/background_save.h"

#include "core/test_hold.h"

namespace glm::train {

BackgroundSave::BackgroundSave(checkpoint::PhasedSave save, checkpoint::OptimizerTensors snapshot,
                               double blocked_seconds)
    : save_(std::move(save)), snapshot_(std::move(snapshot)), blocked_seconds_(blocked_seconds) {
  writer_ = std::thread([this] {
    // (tests/faults: a kill lands before the rank file is written, or after it is written
    // and before the checkpoint is published, while training goes on)
    hold_if_testing("background_write", save_.step());
    save_.write(snapshot_);  // a failure is kept for finish()
    hold_if_testing("background_written", save_.step());
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
