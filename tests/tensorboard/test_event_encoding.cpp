// The hand-written Event encoders (train/tensorboard/event_encoding.h) against libprotobuf:
// the same messages built with protoc's code for event.proto must serialize to the same
// bytes. This binary links libprotobuf-lite and not SentencePiece (whose own protobuf copy
// is why the programs cannot use libprotobuf; see event_encoding.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "event.pb.h"
#include "train/tensorboard/event_encoding.h"

namespace glm::tensorboard {
namespace {

std::string serialized(const Event& e) {
  std::string s;
  EXPECT_TRUE(e.SerializeToString(&s));
  return s;
}

TEST(EventEncoding, FileVersionMatchesLibprotobuf) {
  for (double t : {1764790000.125, 0.0}) {
    Event e;
    e.set_wall_time(t);
    e.set_file_version("brain.Event:2");
    EXPECT_EQ(encode_file_version_event(t, "brain.Event:2"), serialized(e)) << t;
  }
}

TEST(EventEncoding, ScalarsMatchLibprotobufForEdgeValues) {
  const std::string long_tag(300, 'x');  // a length that needs a two-byte varint
  const std::vector<std::pair<std::string, double>> values = {
      {"train/loss", 6.8125},
      {"train/lr", 3e-3},
      {"zero", 0.0},
      {"negative_zero", -0.0},
      {"nan", std::nan("")},
      {"inf", std::numeric_limits<double>::infinity()},
      {"", 1.0},
      {long_tag, 1e30}};
  for (std::int64_t step : {std::int64_t{0}, std::int64_t{1}, std::int64_t{200},
                            std::int64_t{1} << 40, std::int64_t{-3}}) {
    Event e;
    e.set_wall_time(1764790000.5);
    e.set_step(step);
    for (const auto& [tag, value] : values) {
      Summary::Value* v = e.mutable_summary()->add_value();
      v->set_tag(tag);
      v->set_simple_value(static_cast<float>(value));
    }
    EXPECT_EQ(encode_scalar_event(1764790000.5, step, values), serialized(e)) << step;
  }
  Event empty;  // an event with an empty summary
  empty.set_wall_time(2.0);
  empty.mutable_summary();
  EXPECT_EQ(encode_scalar_event(2.0, 0, {}), serialized(empty));
}

TEST(EventEncoding, TextMatchesLibprotobuf) {
  for (const std::string& text :
       {std::string("    {\"model\": {}}\n"), std::string(), std::string(5000, 'c')}) {
    Event e;
    e.set_wall_time(17.25);
    e.set_step(7);
    Summary::Value* v = e.mutable_summary()->add_value();
    v->set_tag("config");
    v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
    TensorProto* t = v->mutable_tensor();
    t->set_dtype(7);  // DT_STRING
    t->mutable_tensor_shape();
    t->add_string_val(text);
    EXPECT_EQ(encode_text_event(17.25, 7, "config", text), serialized(e)) << text.size();
  }
}

}  // namespace
}  // namespace glm::tensorboard
