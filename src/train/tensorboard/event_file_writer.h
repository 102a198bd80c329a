// TensorBoard event files: scalars and text summaries as TFRecord-framed `Event` protos
// (event.proto holds TensorFlow's field numbers), readable by TensorBoard and by anything
// that parses TFRecords.
//
//   tensorboard::EventFileWriter events("logs/run");   // logs/run/events.out.tfevents.<t>.<host>
//   events.add_scalars(step, {{"train/loss", 6.8}, {"train/lr", 3e-3}});
//   events.add_text(0, "config", "    {\"model\": ...}");
//
// Every add_* call writes one complete record straight to the file (see TfRecordWriter), so
// what TensorBoard shows is never behind the last call and a killed run keeps its records.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "train/tensorboard/tfrecord_writer.h"

namespace glm::tensorboard {

class EventFileWriter {
 public:
  // Creates log_dir/events.out.tfevents.<unix seconds>.<hostname> (with a ".N" suffix when a
  // writer of the same second already made that name) and writes the file-version record.
  explicit EventFileWriter(const std::string& log_dir);

  // One event holding every (tag, value) pair at `step`, stored as 32-bit floats.
  void add_scalars(std::int64_t step, const std::vector<std::pair<std::string, double>>& values);
  // A text summary (rendered as Markdown by TensorBoard's text plugin).
  void add_text(std::int64_t step, const std::string& tag, const std::string& text);

  const std::string& path() const { return file_.path(); }

 private:
  TfRecordWriter file_;
};

// The file name a writer opening now would pick (without the ".N" suffix).
std::string event_file_name(double unix_seconds, const std::string& hostname);

}  // namespace glm::tensorboard
