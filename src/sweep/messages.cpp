#include "sweep/messages.h"

#include "sweep/wire.h"

namespace mg::sweep {

std::vector<uint8_t> encode_task(const Task& t) {
  WireWriter w;
  w.put(t.batch);
  w.put<uint64_t>(t.means.size());
  for (const auto& m : t.means) {
    w.put(m.concept_id);
    w.put(m.mean_index);
    w.put(m.rows);
    w.put_array(m.values.data(), m.values.size());
  }
  return std::move(w.bytes());
}

Task decode_task(const std::vector<uint8_t>& bytes) {
  WireReader r(bytes);
  Task t;
  t.batch = r.get<int64_t>();
  const uint64_t n = r.get<uint64_t>();
  for (uint64_t i = 0; i < n; ++i) {
    MeanBlock m;
    m.concept_id = r.get<int64_t>();
    m.mean_index = r.get<int64_t>();
    m.rows = r.get<int64_t>();
    m.values = r.get_array<float>();
    t.means.push_back(std::move(m));
  }
  return t;
}

std::vector<uint8_t> encode_result(const BatchResult& res) {
  WireWriter w;
  w.put(res.batch);
  w.put(res.seconds);
  w.put_array(res.codes.data(), res.codes.size());
  w.put_array(res.logits.data(), res.logits.size());
  w.put_array(res.mean_sums.data(), res.mean_sums.size());
  w.put_array(res.self_distance.data(), res.self_distance.size());
  return std::move(w.bytes());
}

BatchResult decode_result(const std::vector<uint8_t>& bytes) {
  WireReader r(bytes);
  BatchResult res;
  res.batch = r.get<int64_t>();
  res.seconds = r.get<double>();
  res.codes = r.get_array<int16_t>();
  res.logits = r.get_array<float>();
  res.mean_sums = r.get_array<int64_t>();
  res.self_distance = r.get_array<double>();
  return res;
}

}  // namespace mg::sweep
