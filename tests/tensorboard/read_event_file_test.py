#!/usr/bin/env python3
"""glm-train's TensorBoard event files, read back by a reader independent of ours.

The reader below parses TFRecord framing itself, checks both masked CRC-32C values of every
record with the python3-crc32c package, and decodes the Event protos with message classes
built here from TensorFlow's field numbers (not from our event.proto). It then checks, for
real glm-train runs on the bundled corpus:
  - every scalar of every metrics.jsonl step and eval record is in the event file, at its
    step, with its value (float32), and the resolved config is there as a text summary;
  - GLM_CRC32C=table (the table fallback) writes the same valid file, and says so;
  - a run killed with SIGKILL mid-training leaves a file whose records are all intact,
    except at worst a truncated last one.
Usage: read_event_file_test.py GLM_TRAIN CONFIG CORPUS_DIR SCRATCH_DIR
"""
import glob
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import crc32c
from google.protobuf import descriptor_pb2, message_factory

# float32 keeps 24 bits of mantissa: a stored value is within 2^-24 relative of the double.
FLOAT32_REL = 2.0**-23

STEP_TAGS = {  # metrics.jsonl key -> TensorBoard tag
    "loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm",
    "loss_scale": "train/loss_scale", "skipped": "train/skipped",
    "tokens_per_s": "train/tokens_per_s", "step_ms": "train/step_ms", "tflops": "train/tflops",
    "mfu": "train/mfu", "consumed_samples": "train/consumed_samples",
    "global_batch": "train/global_batch", "memory_gb": "mem/peak_gb",
}
EVAL_TAGS = {"eval_loss": "eval/loss", "eval_ppl": "eval/ppl", "eval_tokens": "eval/tokens",
             "eval_bits_per_byte": "eval/bits_per_byte"}


def event_class():
    """Event, Summary, SummaryMetadata, TensorProto with TensorFlow's field numbers."""
    F = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(name="tf_event_subset.proto", package="tfsub",
                                           syntax="proto3")

    def message(name, fields, parent=None):
        m = (parent.nested_type if parent else f.message_type).add(name=name)
        for fname, number, ftype, label, type_name, oneof in fields:
            fd = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                fd.type_name = type_name
            if oneof is not None:
                fd.oneof_index = oneof
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    shape = message("TensorShapeProto", [("dim", 2, F.TYPE_MESSAGE, rep,
                                          ".tfsub.TensorShapeProto.Dim", None)])
    message("Dim", [("size", 1, F.TYPE_INT64, opt, None, None),
                    ("name", 2, F.TYPE_STRING, opt, None, None)], shape)
    message("TensorProto", [("dtype", 1, F.TYPE_INT32, opt, None, None),
                            ("tensor_shape", 2, F.TYPE_MESSAGE, opt, ".tfsub.TensorShapeProto",
                             None),
                            ("string_val", 8, F.TYPE_BYTES, rep, None, None)])
    meta = message("SummaryMetadata", [("plugin_data", 1, F.TYPE_MESSAGE, opt,
                                        ".tfsub.SummaryMetadata.PluginData", None)])
    message("PluginData", [("plugin_name", 1, F.TYPE_STRING, opt, None, None),
                           ("content", 2, F.TYPE_BYTES, opt, None, None)], meta)
    summary = message("Summary", [("value", 1, F.TYPE_MESSAGE, rep, ".tfsub.Summary.Value",
                                   None)])
    value = message("Value", [("tag", 1, F.TYPE_STRING, opt, None, None),
                              ("simple_value", 2, F.TYPE_FLOAT, opt, None, 0),
                              ("tensor", 8, F.TYPE_MESSAGE, opt, ".tfsub.TensorProto", 0),
                              ("metadata", 9, F.TYPE_MESSAGE, opt, ".tfsub.SummaryMetadata",
                               None)], summary)
    value.oneof_decl.add(name="value")
    event = message("Event", [("wall_time", 1, F.TYPE_DOUBLE, opt, None, None),
                              ("step", 2, F.TYPE_INT64, opt, None, None),
                              ("file_version", 3, F.TYPE_STRING, opt, None, 0),
                              ("summary", 5, F.TYPE_MESSAGE, opt, ".tfsub.Summary", 0)])
    event.oneof_decl.add(name="what")
    return message_factory.GetMessages([f])["tfsub.Event"]


Event = event_class()


def masked_crc(data):
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    """(payloads, truncated_tail): every complete record's CRCs must hold."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        if len(data) - pos < 12:
            return out, True
        (length,) = struct.unpack_from("<Q", data, pos)
        (len_crc,) = struct.unpack_from("<I", data, pos + 8)
        assert len_crc == masked_crc(data[pos:pos + 8]), f"{path}: length CRC of record {len(out)}"
        end = pos + 12 + length + 4
        if end > len(data):
            return out, True
        payload = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        assert data_crc == masked_crc(payload), f"{path}: data CRC of record {len(out)}"
        out.append(payload)
        pos = end
    return out, False


def parse_events(path):
    payloads, truncated = read_records(path)
    events = []
    for p in payloads:
        e = Event()
        e.ParseFromString(p)
        events.append(e)
    assert events and events[0].file_version == "brain.Event:2", f"{path}: no file_version first"
    return events, truncated


def scalars_and_texts(events):
    scalars, texts = {}, {}
    for e in events[1:]:
        for v in e.summary.value:
            if v.WhichOneof("value") == "simple_value":
                scalars[(v.tag, e.step)] = v.simple_value
            else:
                assert v.metadata.plugin_data.plugin_name == "text", v.tag
                assert v.tensor.dtype == 7, "text summaries are DT_STRING tensors"
                texts[v.tag] = v.tensor.string_val[0].decode()
    return scalars, texts


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= FLOAT32_REL * max(abs(a), abs(b)) + 1e-30


def event_file(log_dir):
    files = glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))
    assert len(files) == 1, f"{log_dir}: expected one event file, found {files}"
    assert os.path.basename(files[0]).split(".")[4] == os.uname().nodename, files[0]
    return files[0]


def train(glm_train, config, corpus, log_dir, iters, env=None):
    shutil.rmtree(log_dir, ignore_errors=True)
    cmd = [glm_train, "--config", config, "--data", corpus, "--log-dir", log_dir,
           "--train-iters", str(iters), "--set", "train.log_interval=3",
           "--set", "train.eval_interval=6",
           # the test corpus's 6000-piece tokenizer, padded as the other trainer tests do
           "--set", "model.vocab_size=6016"]
    return cmd, dict(os.environ, **(env or {}))


def check_against_jsonl(log_dir):
    events, truncated = parse_events(event_file(log_dir))
    assert not truncated, f"{log_dir}: a finished run left a truncated record"
    scalars, texts = scalars_and_texts(events)
    lines = [json.loads(l) for l in open(os.path.join(log_dir, "metrics.jsonl"))]
    checked = 0
    for rec in lines:
        tags = STEP_TAGS if "loss" in rec else EVAL_TAGS if "eval_loss" in rec else {}
        pairs = [(tag, rec[key]) for key, tag in tags.items()]
        if "loss" in rec:  # the memory categories: memory_gb_by_kind.<kind> -> mem/<kind>_gb
            kinds = rec["memory_gb_by_kind"]
            assert len(kinds) == 6, f"step {rec['step']}: memory categories {sorted(kinds)}"
            pairs += [(f"mem/{kind}_gb", gb) for kind, gb in kinds.items()]
        for tag, want in pairs:
            got = scalars.get((tag, rec["step"]))
            assert got is not None, f"{tag} at step {rec['step']} missing from the event file"
            assert close(got, float(want)), f"{tag} step {rec['step']}: {got} vs {want}"
            checked += 1
    start = next(r for r in lines if r.get("event") == "start")
    config_text = "\n".join(l[4:] for l in texts["config"].splitlines())
    assert json.loads(config_text) == start["config"], "config text differs from the start record"
    n_steps = sum("loss" in r for r in lines)
    n_evals = sum("eval_loss" in r for r in lines)
    assert n_steps >= 2 and n_evals >= 2, f"{log_dir}: only {n_steps} steps, {n_evals} evals"
    return checked


def main():
    glm_train, config, corpus, scratch = sys.argv[1:5]
    os.makedirs(scratch, exist_ok=True)

    # 1. A finished run, default CRC path.
    log_a = os.path.join(scratch, "default")
    cmd, env = train(glm_train, config, corpus, log_a, 12)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr + out.stdout
    print(f"default path: {check_against_jsonl(log_a)} values match metrics.jsonl")

    # 2. The table fallback, forced by the environment switch.
    log_b = os.path.join(scratch, "table")
    cmd, env = train(glm_train, config, corpus, log_b, 6, {"GLM_CRC32C": "table"})
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "(CRC32C: table)" in out.stdout + out.stderr, "GLM_CRC32C=table did not take the table"
    print(f"table path: {check_against_jsonl(log_b)} values match metrics.jsonl")

    # 3. SIGKILL mid-run: every record but at worst the last is intact.
    log_c = os.path.join(scratch, "killed")
    cmd, env = train(glm_train, config, corpus, log_c, 100000)
    cmd += ["--set", "train.log_interval=1", "--set", "train.eval_interval=0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        files = glob.glob(os.path.join(log_c, "events.out.tfevents.*"))
        if files and len(read_records(files[0])[0]) >= 15:  # version, config, eval 0, 12 steps
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    events, truncated = parse_events(event_file(log_c))
    scalars, _ = scalars_and_texts(events)
    steps = sorted(s for (t, s) in scalars if t == "train/loss")
    assert len(steps) >= 10 and steps == list(range(1, len(steps) + 1)), steps
    print(f"killed run: {len(events)} intact records, truncated tail: {truncated}")

    # The reader itself: a record cut short anywhere is reported as a truncated tail, and a
    # flipped bit in a complete record fails its CRC.
    data = open(event_file(log_a), "rb").read()
    cut = os.path.join(scratch, "cut.tfevents")
    open(cut, "wb").write(data[:-5])
    payloads, truncated = read_records(cut)
    assert truncated and len(payloads) == len(read_records(event_file(log_a))[0]) - 1
    flipped = bytearray(data)
    flipped[40] ^= 1
    open(cut, "wb").write(bytes(flipped))
    try:
        read_records(cut)
        raise SystemExit("a flipped bit passed the CRC check")
    except AssertionError:
        pass
    print("ok")


if __name__ == "__main__":
    main()
